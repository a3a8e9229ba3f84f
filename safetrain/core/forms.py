"""Form fields shared by the apps' pages."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _lazy


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleImageField(forms.ImageField):
    """Several images in one input (group photos); each is checked as an image."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/*"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, list | tuple):
            return [super(MultipleImageField, self).clean(item, initial) for item in data]
        return [super().clean(data, initial)] if data else []


class MonthInput(forms.DateInput):
    """The browser's month picker (2026-11); a browser without one shows a text box that takes the same."""

    input_type = "month"

    def __init__(self, attrs=None):
        super().__init__(attrs={"placeholder": "2026-11", **(attrs or {})}, format="%Y-%m")


class MonthField(forms.DateField):
    """A month (YYYY-MM; a full date stands for its month), cleaned to the month's first day."""

    widget = MonthInput
    input_formats = ["%Y-%m", "%Y-%m-%d", "%Y/%m", "%Y/%m/%d"]
    default_error_messages = {"invalid": _lazy("Enter a month as year-month, for example 2026-11.")}

    def to_python(self, value):
        day = super().to_python(value)
        return day.replace(day=1) if day else day


class DateInput(forms.DateInput):
    """The browser's date picker. Its value must be ISO (2026-12-01) whatever the language: the Chinese format
    (2026/12/01) would leave the picker empty."""

    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")
