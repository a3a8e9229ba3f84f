from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.utils.translation import gettext_lazy as _


class ReadOnlyAdmin(admin.ModelAdmin):
    """Admin pages that only show: reference data and append-only records."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class SafeTrainAdminSite(admin.AdminSite):
    """The admin in Chinese throughout. Two third-party apps name themselves in plain strings that gettext cannot
    reach (django-otp's "TOTP device", the app labels), so the index names them here."""

    site_header = _("SafeTrain operations administration")
    site_title = _("SafeTrain administration")
    index_title = _("Administration")
    APP_NAMES = {"axes": _("Sign-in protection"), "otp_totp": _("Authenticator apps")}
    MODEL_NAMES = {("otp_totp", "TOTPDevice"): _("Authenticator devices")}

    def get_app_list(self, request, app_label=None):
        app_list = super().get_app_list(request, app_label)
        for app in app_list:
            app["name"] = self.APP_NAMES.get(app["app_label"], app["name"])
            for model in app["models"]:
                model["name"] = self.MODEL_NAMES.get((app["app_label"], model["object_name"]), model["name"])
        return app_list


class SafeTrainAdminConfig(AdminConfig):
    default_site = "safetrain.core.admin.SafeTrainAdminSite"
