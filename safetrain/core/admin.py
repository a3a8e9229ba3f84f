from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Admin pages that only show: reference data and append-only records."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
