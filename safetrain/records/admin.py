from django.contrib import admin

from safetrain.core.admin import ReadOnlyAdmin
from safetrain.records.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    """Read-only: the trail is append-only for everybody, operators included (REC-04)."""

    list_display = ("seq", "at", "actor_label", "ip", "action", "object_type", "object_id", "result")
    list_filter = ("result", "action")
    search_fields = ("action", "object_id")
    date_hierarchy = "at"

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)
