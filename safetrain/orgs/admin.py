from django.contrib import admin

from safetrain.orgs.models import Organisation, Region


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "level", "parent")
    list_filter = ("level",)
    search_fields = ("code", "name")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "region", "industry", "is_high_risk", "project_status", "is_active")
    list_filter = ("kind", "industry", "is_high_risk", "is_active")
    search_fields = ("name", "uscc")
    autocomplete_fields = ("parent",)
    raw_id_fields = ("region",)
    readonly_fields = ("path",)

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)

    def has_delete_permission(self, request, obj=None):
        return False
