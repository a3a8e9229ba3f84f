from django.contrib import admin

from safetrain.core.admin import ReadOnlyAdmin
from safetrain.orgs.models import Organisation, Region
from safetrain.orgs.services import organisation_create
from safetrain.records.services import audit_log


@admin.register(Region)
class RegionAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "level", "parent")
    list_filter = ("level",)
    search_fields = ("code", "name")


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "region", "industry", "is_high_risk", "project_status", "is_active")
    list_filter = ("kind", "industry", "is_high_risk", "is_active")
    search_fields = ("name", "uscc")
    autocomplete_fields = ("parent",)
    list_select_related = ("region",)
    raw_id_fields = ("region",)
    readonly_fields = ("path",)

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)

    def get_readonly_fields(self, request, obj=None):
        # The tree position decides who sees what: it is set once, by the service.
        return ("path", "kind", "parent") if obj else ("path",)

    def save_model(self, request, obj, form, change):
        """New organisations go through the service (tree path, checks, audit); edits are audited."""
        if not change:
            data = {f: form.cleaned_data.get(f) for f in form.cleaned_data}
            created = organisation_create(
                name=data["name"],
                kind=data["kind"],
                region=data["region"],
                parent=data.get("parent"),
                uscc=data.get("uscc") or "",
                industry=data.get("industry") or "",
                # Unticked means "follow the industry" unless the operator changed it on purpose.
                is_high_risk=data.get("is_high_risk") if "is_high_risk" in form.changed_data else None,
                project_status=data.get("project_status") or "",
                contact_name=data.get("contact_name") or "",
                contact_phone=data.get("contact_phone") or "",
                address=data.get("address") or "",
            )
            obj.pk, obj.path = created.pk, created.path
            return
        super().save_model(request, obj, form, change)
        audit_log(
            action="org.admin_update", obj=obj, organisation_id=obj.pk, detail={"fields": form.changed_data}
        )

    def has_delete_permission(self, request, obj=None):
        return False
