from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CertificationConfig(AppConfig):
    name = "safetrain.certification"
    label = "certification"
    verbose_name = _("Certificates")

    def ready(self) -> None:
        # The exam result page links to the certificate without assessment importing certification.
        from safetrain.accounts.guide import guide_step_register
        from safetrain.assessment.links import certificate_link_register
        from safetrain.certification.links import enrolment_certificate_link, has_certificate

        certificate_link_register(enrolment_certificate_link)
        guide_step_register(step="certificate", done=has_certificate)
