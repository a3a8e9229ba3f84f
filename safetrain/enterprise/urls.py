from django.urls import path

from safetrain.enterprise import views

app_name = "enterprise"

urlpatterns = [
    path("people/", views.people_view, name="people"),
    path("people/import/", views.import_view, name="import"),
    path("people/import/jobs/<int:job_id>/", views.import_job_view, name="import_job"),
    path("people/template/<slug:kind>/", views.template_view, name="template"),
    path("people/accounts/<int:unit_id>/", views.accounts_view, name="accounts"),
    path("people/<int:person_id>/leave/", views.leave_view, name="leave"),
    path("people/leave/", views.leave_many_view, name="leave_many"),
    path("realname/", views.realname_view, name="realname"),
    path("realname/<int:project_id>/sync/", views.realname_sync_view, name="realname_sync"),
    path("report/", views.report_view, name="report"),
    path("report/export/", views.report_export_view, name="report_export"),
    path("report/<int:project_id>/<slug:column>/", views.report_people_view, name="report_people"),
    path("classes/", views.classes_view, name="classes"),
    path("classes/<int:class_id>/", views.class_view, name="class"),
    path("classes/<int:class_id>/add/", views.class_add_view, name="class_add"),
    path("classes/<int:class_id>/sessions/", views.class_session_view, name="class_session"),
    path(
        "classes/<int:class_id>/sessions/<int:link_id>/photos/", views.class_photos_view, name="class_photos"
    ),
    path("summary/", views.summary_view, name="summary"),
]
