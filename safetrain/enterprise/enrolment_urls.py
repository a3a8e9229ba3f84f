from django.urls import path

from safetrain.enterprise import enrolment_views as views

app_name = "enrolment"

urlpatterns = [
    path("", views.calls_view, name="calls"),
    path("<int:call_id>/unit/", views.unit_apply_view, name="unit_apply"),
    path("<int:call_id>/individual/", views.individual_apply_view, name="individual_apply"),
    path("applications/<str:token>/", views.application_view, name="application"),
    path("mine/", views.mine_view, name="mine"),
    path("payments/notify/", views.payment_notify_view, name="payment_notify"),
    path("manage/", views.manage_view, name="manage"),
    path("manage/<int:application_id>/", views.manage_application_view, name="manage_application"),
    path("manage/transfers/", views.transfers_view, name="transfers"),
    path("manage/transfers/<int:transfer_id>/match/", views.transfer_match_view, name="transfer_match"),
    path("manage/invoices/", views.invoices_view, name="invoices"),
]
