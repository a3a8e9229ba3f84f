"""Operators enter a project's real-name system code (ENT-03) and read the sync history (never edit it)."""

from __future__ import annotations

from django.contrib import admin

from safetrain.catalog.admin import AuditedAdmin
from safetrain.enterprise.models import RealNameProject, RealNameSync


@admin.register(RealNameProject)
class RealNameProjectAdmin(AuditedAdmin):
    list_display = ("code", "project")
    search_fields = ("code",)
    raw_id_fields = ("project",)


@admin.register(RealNameSync)
class RealNameSyncAdmin(admin.ModelAdmin):
    list_display = (
        "project",
        "at",
        "first",
        "ok",
        "joined",
        "left",
        "changed",
        "remote_on_site",
        "local_on_site",
    )
    list_filter = ("ok", "first")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
