"""Operators enrol learners and inspect study data in the admin; every write goes through the services."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from safetrain.accounts.models import User, id_index_of
from safetrain.catalog.models import JobType, Programme
from safetrain.core.admin import ReadOnlyAdmin
from safetrain.core.errors import DomainError
from safetrain.learning.models import Enrolment, QuizQuestion, StudyRecord, SuspiciousEvent
from safetrain.learning.services import enrolment_create


class EnrolmentForm(forms.ModelForm):
    """Enrol by ID number (the database holds no plain numbers to pick from)."""

    id_number = forms.CharField(label=_("ID number"), max_length=20)

    class Meta:
        model = Enrolment
        fields = ("programme", "job_type")

    def clean(self):
        data = super().clean()
        number = (data.get("id_number") or "").strip().upper()
        learner = User.objects.filter(id_index=id_index_of(number)).first() if number else None
        if learner is None:
            self.add_error("id_number", _("No account has this ID number."))
        data["learner"] = learner
        return data


@admin.register(Enrolment)
class EnrolmentAdmin(admin.ModelAdmin):
    list_display = ("learner", "programme", "organisation", "opened_on", "deadline", "status")
    list_filter = ("status", "programme")
    list_select_related = ("learner", "programme", "organisation")
    readonly_fields = ("learner", "organisation", "opened_on", "deadline", "status")

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = EnrolmentForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        return ("id_number", "programme", "job_type") if obj is None else super().get_fields(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return (
            ()
            if obj is None
            else ("learner", "programme", "organisation", "job_type", "opened_on", "deadline", "status")
        )

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "programme":
            kwargs["queryset"] = Programme.objects.filter(is_published=True)
        if db_field.name == "job_type":
            kwargs["queryset"] = JobType.objects.all()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if change:
            return
        try:
            created = enrolment_create(
                learner=form.cleaned_data["learner"],
                programme=form.cleaned_data["programme"],
                job_type=form.cleaned_data.get("job_type"),
            )
        except DomainError as exc:
            messages.error(request, exc.message)
            raise
        obj.pk = created.pk

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(QuizQuestion)
class QuizQuestionAdmin(admin.ModelAdmin):
    list_display = ("course", "kind", "stem", "is_active")
    list_filter = ("kind", "is_active", "course")
    search_fields = ("stem",)

    def has_delete_permission(self, request, obj=None):
        return False  # attempts point at questions: deactivate instead


@admin.register(StudyRecord)
class StudyRecordAdmin(ReadOnlyAdmin):
    list_display = (
        "at",
        "learner",
        "lesson",
        "kind",
        "seq",
        "position",
        "credited_seconds",
        "accepted",
        "ip",
    )
    list_filter = ("kind", "accepted")
    list_select_related = ("learner", "lesson")


@admin.register(SuspiciousEvent)
class SuspiciousEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "learner", "kind", "review")
    list_filter = ("kind",)
    list_select_related = ("learner", "review")
