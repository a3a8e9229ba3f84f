from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from safetrain.core.admin import ReadOnlyAdmin
from safetrain.records.models import ArchiveFile, AuditEntry, RecordSeal


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    """Read-only: the trail is append-only for everybody, operators included (REC-04)."""

    list_display = (
        "seq",
        "at",
        "actor_label",
        "ip",
        "action_display",
        "object_display",
        "object_id",
        "result",
    )
    list_filter = ("result",)
    search_fields = ("action", "object_id")
    date_hierarchy = "at"

    @admin.display(description=_("action"), ordering="action")
    def action_display(self, obj: AuditEntry) -> str:
        return obj.action_label

    @admin.display(description=_("object type"), ordering="object_type")
    def object_display(self, obj: AuditEntry) -> str:
        return obj.object_label

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)


@admin.register(RecordSeal)
class RecordSealAdmin(ReadOnlyAdmin):
    list_display = ("seq", "source", "first_id", "last_id", "count", "sealed_at")
    list_filter = ("source",)


@admin.register(ArchiveFile)
class ArchiveFileAdmin(ReadOnlyAdmin):
    list_display = ("name", "source", "rows", "first_id", "last_id", "created_at", "keep_until")
