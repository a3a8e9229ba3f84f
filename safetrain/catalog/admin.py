"""The operators' admin for content: courses, lessons, teachers, programmes, profiles, job-code mappings, Q&A.

Writes are audited; state changes with rules (publishing, answering, uploading videos) go through the services.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from safetrain.catalog.models import (
    Chapter,
    Course,
    CourseMaterial,
    CourseQuestion,
    JobCodeMapping,
    JobType,
    LegalBasis,
    Lesson,
    OfflineSession,
    Programme,
    ProgrammeCourse,
    QualificationCategory,
    QualificationItem,
    RegionProfile,
    Teacher,
    Video,
    VideoStatus,
)
from safetrain.catalog.services import (
    check_download_file,
    course_publish,
    course_withdraw,
    programme_publish,
    question_answer,
)
from safetrain.core.admin import ReadOnlyAdmin
from safetrain.core.errors import DomainError
from safetrain.records.services import audit_log


class AuditedAdmin(admin.ModelAdmin):
    """Every add and change through the admin lands in the operation log."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit_log(
            action=f"admin.{'change' if change else 'add'}", obj=obj, detail={"fields": form.changed_data}
        )

    def has_delete_permission(self, request, obj=None):
        return False  # content is withdrawn, never deleted: records point at it


class ChapterInline(admin.TabularInline):
    model = Chapter
    extra = 0


class LegalBasisInline(admin.TabularInline):
    model = LegalBasis
    extra = 0


class MaterialForm(forms.ModelForm):
    class Meta:
        model = CourseMaterial
        fields = ("title", "file")

    def clean_file(self):
        file = self.cleaned_data["file"]
        if getattr(file, "_committed", True) is False:  # a new upload
            try:
                check_download_file(file)
            except DomainError as exc:
                raise forms.ValidationError(exc.message) from exc
        return file

    def save(self, commit=True):
        material = super().save(commit=False)
        material.size = material.file.size
        if commit:
            material.save()
        return material


class MaterialInline(admin.TabularInline):
    model = CourseMaterial
    form = MaterialForm
    extra = 0
    readonly_fields = ("size",)


@admin.register(Course)
class CourseAdmin(AuditedAdmin):
    list_display = (
        "code",
        "title",
        "is_public",
        "construction_category",
        "is_study_only",
        "status",
        "reviewed_on",
    )
    list_filter = ("status", "is_public", "construction_category")
    search_fields = ("code", "title")
    readonly_fields = ("status",)
    filter_horizontal = ("teachers", "qualification_items", "job_types")
    inlines = [ChapterInline, LegalBasisInline, MaterialInline]
    actions = ["publish", "withdraw"]

    @admin.action(description=_("Publish the selected courses"))
    def publish(self, request, queryset):
        for course in queryset:
            try:
                course_publish(course=course)
            except DomainError as exc:
                messages.error(request, f"{course.code}: {exc.message}")

    @admin.action(description=_("Withdraw the selected courses"))
    def withdraw(self, request, queryset):
        for course in queryset:
            course_withdraw(course=course, reason="admin")


class LessonForm(forms.ModelForm):
    class Meta:
        model = Lesson
        fields = ("chapter", "title", "order", "kind", "video", "document")

    def clean(self):
        data = super().clean()
        video = data.get("video")
        if data.get("kind") == "video" and (video is None or video.status != VideoStatus.READY):
            self.add_error("video", _("Choose a transcoded (ready) video."))
        document = data.get("document")
        if document and getattr(document, "_committed", True) is False:
            try:
                check_download_file(document)
            except DomainError as exc:
                self.add_error("document", exc.message)
        return data


@admin.register(Lesson)
class LessonAdmin(AuditedAdmin):
    form = LessonForm
    list_display = ("title", "chapter", "kind", "video", "order")
    list_select_related = ("chapter", "video")
    raw_id_fields = ("chapter",)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "video":
            kwargs["queryset"] = Video.objects.filter(status=VideoStatus.READY)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Video)
class VideoAdmin(ReadOnlyAdmin):
    """Uploads go through the upload page (probe, transcode, progress); here they are only listed."""

    list_display = ("title", "status", "progress", "duration_seconds", "created_at")
    list_filter = ("status",)
    search_fields = ("title", "original_name")


@admin.register(Teacher)
class TeacherAdmin(AuditedAdmin):
    list_display = ("name", "title")
    search_fields = ("name",)


class ProgrammeCourseInline(admin.TabularInline):
    model = ProgrammeCourse
    extra = 0
    autocomplete_fields = ("course",)


@admin.register(Programme)
class ProgrammeAdmin(AuditedAdmin):
    list_display = ("code", "name", "profile", "kind", "audience", "required_minutes", "is_published")
    list_filter = ("profile", "kind", "audience", "is_published")
    search_fields = ("code", "name")
    readonly_fields = ("is_published",)
    inlines = [ProgrammeCourseInline]
    actions = ["publish"]

    @admin.action(description=_("Publish the selected programmes"))
    def publish(self, request, queryset):
        for programme in queryset:
            try:
                programme_publish(programme=programme)
            except DomainError as exc:
                messages.error(request, f"{programme.code}: {exc.message}")


@admin.register(RegionProfile)
class RegionProfileAdmin(AuditedAdmin):
    list_display = (
        "code",
        "name",
        "class_hour_minutes",
        "daily_cap_class_hours",
        "min_study_days",
        "exam_pass_mark",
        "certificate_validity_months",
    )


@admin.register(QualificationCategory)
class QualificationCategoryAdmin(ReadOnlyAdmin):
    list_display = ("kind", "code", "name")
    list_filter = ("kind",)


@admin.register(QualificationItem)
class QualificationItemAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "category", "industry", "offers_initial", "offers_review")
    list_filter = ("category__kind", "category")
    list_select_related = ("category",)
    search_fields = ("code", "name")


@admin.register(JobType)
class JobTypeAdmin(AuditedAdmin):
    list_display = ("code", "name", "is_management")


@admin.register(JobCodeMapping)
class JobCodeMappingAdmin(AuditedAdmin):
    """Unmapped external codes (empty job type) are listed first for an operator to map (CAT-03)."""

    list_display = ("source", "external_code", "external_name", "job_type")
    list_filter = ("source", ("job_type", admin.EmptyFieldListFilter))
    list_editable = ("job_type",)
    ordering = ("job_type", "external_code")


@admin.register(CourseQuestion)
class CourseQuestionAdmin(admin.ModelAdmin):
    list_display = ("course", "text", "answered_at")
    list_filter = (("answered_at", admin.EmptyFieldListFilter),)
    fields = ("course", "text", "answer")
    readonly_fields = ("course", "text")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        question_answer(question=obj, answer=form.cleaned_data["answer"], answered_by=request.user)


@admin.register(OfflineSession)
class OfflineSessionAdmin(ReadOnlyAdmin):
    list_display = ("date", "programme", "organisation", "place", "teacher", "minutes")
    list_select_related = ("programme", "organisation")
