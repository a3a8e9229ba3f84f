from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from safetrain.accounts.models import Membership, User
from safetrain.accounts.services import password_reset_to_initial
from safetrain.records.services import audit_log


class MembershipInline(admin.TabularInline):
    """Shown, never edited here: roles change through the services (checks and audit)."""

    model = Membership
    extra = 0
    fields = ("organisation", "role", "is_active", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    """Accounts are created by the services (registration, roster import, seed_demo); the admin views them,
    manages roles and resets passwords. Personal data is shown masked in lists."""

    list_display = (
        "pk",
        "masked_name_display",
        "masked_id_number_display",
        "primary_organisation",
        "is_active",
        "must_change_password",
    )
    list_filter = ("is_active", "must_change_password", "id_type")
    readonly_fields = (
        "id_type",
        "masked_id_number_display",
        "sex",
        "birth_date",
        "id_region_code",
        "date_joined",
        "last_login",
        "password_changed_at",
    )
    fields = (
        "id_type",
        "masked_id_number_display",
        "name",
        "sex",
        "birth_date",
        "id_region_code",
        "primary_organisation",
        "education",
        "years_in_safety_work",
        "is_active",
        "is_staff",
        "must_change_password",
        "date_joined",
        "last_login",
        "password_changed_at",
    )
    raw_id_fields = ("primary_organisation",)
    inlines = [MembershipInline]

    @admin.display(description=_("name"))
    def masked_name_display(self, obj: User) -> str:
        return obj.masked_name

    @admin.display(description=_("ID number"))
    def masked_id_number_display(self, obj: User) -> str:
        return obj.masked_id_number

    actions = ["reset_to_initial_password"]

    def get_queryset(self, request):
        return User.objects.visible_to(request.user).select_related("primary_organisation")

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit_log(action="account.admin_update", obj=obj, detail={"fields": form.changed_data})

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Reset to the initial password (last 6 ID characters)"))
    def reset_to_initial_password(self, request, queryset):
        for user in queryset:
            password_reset_to_initial(user=user)
        messages.success(
            request,
            ngettext(
                "%(n)d account reset; it must change the password at next sign-in.",
                "%(n)d accounts reset; they must change the password at next sign-in.",
                queryset.count(),
            )
            % {"n": queryset.count()},
        )
