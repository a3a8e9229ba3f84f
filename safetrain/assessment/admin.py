from django.contrib import admin

from safetrain.assessment.models import ExamAttempt, ExamRecord, OfflineTestResult, PaperRule, Question
from safetrain.core.admin import ReadOnlyAdmin


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):
    list_display = ("pk", "programme", "kind", "stem", "knowledge_point", "difficulty", "is_active")
    list_filter = ("programme", "kind", "difficulty", "is_active")
    search_fields = ("stem", "knowledge_point")
    readonly_fields = ("fingerprint", "created_at", "created_by")

    def has_delete_permission(self, request, obj=None):
        # Questions that were on a paper stay (papers keep their own copy); withdraw one by making it inactive.
        return False


@admin.register(PaperRule)
class PaperRuleAdmin(ReadOnlyAdmin):
    """Rules are saved through `assessment.papers.paper_rule_save`, which refuses a rule the bank cannot fill."""

    list_display = ("programme", "name", "preset", "duration_minutes", "pass_mark", "attempts", "is_active")
    list_filter = ("is_active", "preset")


@admin.register(ExamAttempt)
class ExamAttemptAdmin(ReadOnlyAdmin):
    list_display = (
        "pk",
        "enrolment",
        "kind",
        "number",
        "started_at",
        "submitted_at",
        "submitted_by",
        "score",
        "passed",
    )
    list_filter = ("kind", "passed", "submitted_by")


@admin.register(ExamRecord)
class ExamRecordAdmin(ReadOnlyAdmin):
    """Exam records are append-only for everybody (REC-04)."""

    list_display = ("attempt", "learner", "kind", "score", "passed", "submitted_at")


@admin.register(OfflineTestResult)
class OfflineTestResultAdmin(ReadOnlyAdmin):
    list_display = ("enrolment", "paper", "sitting", "score", "passed", "entered_at")
