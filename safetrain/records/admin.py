from django.contrib import admin

from safetrain.records.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: the trail is append-only for everybody, operators included (REC-04)."""

    list_display = ("seq", "at", "actor_label", "ip", "action", "object_type", "object_id", "result")
    list_filter = ("result", "action")
    search_fields = ("action", "object_id")
    date_hierarchy = "at"

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
