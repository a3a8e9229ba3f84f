from django.contrib import admin
from django.shortcuts import redirect
from django.urls import include, path

from config.api import api
from safetrain.accounts.views import home_view, login_view
from safetrain.core.views import healthz, metrics, public_file

admin.site.login = login_view  # one sign-in page with lockout, captcha and two-factor for everybody
# One password change, with the rules, the history and the audit entry.
admin.site.password_change = lambda request, extra_context=None: redirect("accounts:password_change")

urlpatterns = [
    path("", home_view, name="home"),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    # Uploaded files are never served from a public folder: only these public prefixes, the rest via views
    # that check enrolment (videos, materials, documents).
    path("files/<path:path>", public_file, name="public_file"),
    path("accounts/", include("safetrain.accounts.urls")),
    path("records/", include("safetrain.records.urls")),
    path("catalog/", include("safetrain.catalog.urls")),
    path("proctoring/", include("safetrain.proctoring.urls")),
    path("assessment/", include("safetrain.assessment.urls")),
    path("enterprise/", include("safetrain.enterprise.urls")),
    path("enrol/", include("safetrain.enterprise.enrolment_urls")),
    path("ops/", include("safetrain.integrations.urls")),
    path("", include("safetrain.regulator.urls")),
    path("", include("safetrain.certification.urls")),
    path("", include("safetrain.learning.urls")),
    path("api/v1/", api.urls),
    path("captcha/", include("captcha.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]

handler400 = "safetrain.core.views.error_400"
handler403 = "safetrain.core.views.error_403"
handler404 = "safetrain.core.views.error_404"
handler500 = "safetrain.core.views.error_500"
