from django.urls import path

from safetrain.assessment import views

app_name = "assessment"

urlpatterns = [
    path("questions/", views.bank_view, name="bank"),
    path("questions/import/", views.bank_import_view, name="bank_import"),
    path("questions/export/", views.bank_export_view, name="bank_export"),
    path("questions/template/", views.bank_template_view, name="bank_template"),
]
