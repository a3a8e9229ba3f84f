from django.urls import path

from safetrain.enterprise import views

app_name = "enterprise"

urlpatterns = [
    path("people/", views.people_view, name="people"),
    path("people/import/", views.import_view, name="import"),
    path("people/template/<slug:kind>/", views.template_view, name="template"),
    path("people/accounts/<int:unit_id>/", views.accounts_view, name="accounts"),
    path("people/<int:person_id>/leave/", views.leave_view, name="leave"),
    path("realname/", views.realname_view, name="realname"),
    path("realname/<int:project_id>/sync/", views.realname_sync_view, name="realname_sync"),
    path("report/", views.report_view, name="report"),
    path("report/export/", views.report_export_view, name="report_export"),
    path("report/<int:project_id>/<slug:column>/", views.report_people_view, name="report_people"),
]
