from django.urls import path

from safetrain.certification import views

app_name = "certification"

urlpatterns = [
    path("verify/", views.verify_index_view, name="verify_index"),
    path("verify/public-key.pem", views.public_key_view, name="public_key"),
    path("verify/<str:number>", views.verify_view, name="verify"),
    path("certificates/", views.my_certificates_view, name="mine"),
    path("certificates/issued/", views.issued_view, name="issued"),
    path("certificates/<str:number>.pdf", views.certificate_pdf_view, name="pdf"),
    path("certificates/<str:number>/mailing/", views.mailing_view, name="mailing"),
]
