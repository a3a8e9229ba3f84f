from django.contrib import admin

from safetrain.regulator.models import Survey, SurveyQuestion


class SurveyQuestionInline(admin.TabularInline):
    model = SurveyQuestion
    extra = 3


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    list_display = ("title", "year", "opens_on", "closes_on")
    inlines = [SurveyQuestionInline]
