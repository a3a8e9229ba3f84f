from django.contrib import admin

from safetrain.core.admin import ReadOnlyAdmin
from safetrain.records.models import ArchiveFile, AuditEntry, RecordSeal


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    """Read-only: the trail is append-only for everybody, operators included (REC-04)."""

    list_display = ("seq", "at", "actor_label", "ip", "action", "object_type", "object_id", "result")
    list_filter = ("result", "action")
    search_fields = ("action", "object_id")
    date_hierarchy = "at"

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)


@admin.register(RecordSeal)
class RecordSealAdmin(ReadOnlyAdmin):
    list_display = ("seq", "source", "first_id", "last_id", "count", "sealed_at")
    list_filter = ("source",)


@admin.register(ArchiveFile)
class ArchiveFileAdmin(ReadOnlyAdmin):
    list_display = ("name", "source", "rows", "first_id", "last_id", "created_at", "keep_until")
