from django.contrib import admin

from safetrain.certification.models import Certificate, Mailing
from safetrain.core.admin import ReadOnlyAdmin


@admin.register(Certificate)
class CertificateAdmin(ReadOnlyAdmin):
    list_display = [
        "number",
        "kind",
        "holder_name_masked",
        "programme_name",
        "issued_on",
        "valid_until",
        "revoked_at",
    ]
    list_filter = ["kind", "issued_on"]
    search_fields = ["number"]


@admin.register(Mailing)
class MailingAdmin(ReadOnlyAdmin):
    list_display = ["certificate", "courier", "tracking_number", "sent_on"]
    search_fields = ["tracking_number", "certificate__number"]
