from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from safetrain.integrations.models import Alarm, DeliveryAttempt, OutboundRecord, OutboundState


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    readonly_fields = ("at", "status_code", "error", "milliseconds")


@admin.register(OutboundRecord)
class OutboundRecordAdmin(admin.ModelAdmin):
    """The supervision platform's outbox and delivery log (INT-01)."""

    list_display = ("kind", "record_id", "state", "attempts", "next_attempt_at", "delivered_at", "last_error")
    list_filter = ("state", "kind")
    search_fields = ("record_id",)
    readonly_fields = [f.name for f in OutboundRecord._meta.fields]
    inlines = [DeliveryAttemptInline]
    actions = ["retry"]

    @admin.action(description=_("Send again (after the cause is fixed)"))
    def retry(self, request, queryset):
        # Only a failed record that is still the newest version of its record (its payload is still here).
        queryset.filter(state=OutboundState.FAILED, payload__isnull=False).update(
            state=OutboundState.PENDING, attempts=0, next_attempt_at=timezone.now()
        )

    def has_add_permission(self, request):
        return False


@admin.register(Alarm)
class AlarmAdmin(admin.ModelAdmin):
    """The alarm log (OPS-02), read-only: alerts arrive from Alertmanager, operators acknowledge on the page."""

    list_display = ("starts_at", "name", "severity", "node", "status", "acknowledged_at")
    list_filter = ("status", "severity", "name")
    readonly_fields = [f.name for f in Alarm._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
