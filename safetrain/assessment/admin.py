from django.contrib import admin

from safetrain.assessment.models import Question


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):
    list_display = ("pk", "programme", "kind", "stem", "knowledge_point", "difficulty", "is_active")
    list_filter = ("programme", "kind", "difficulty", "is_active")
    search_fields = ("stem", "knowledge_point")
    readonly_fields = ("fingerprint", "created_at", "created_by")
