"""UX-02: date pickers keep their value in Chinese (the browser's date input only takes ISO dates)."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import translation

from safetrain.core.forms import DateInput


class Form(forms.Form):
    day = forms.DateField(widget=DateInput())


def test_ux_02_a_date_picker_shows_its_date_in_chinese_pages_and_takes_it_back():
    with translation.override("zh-hans"):
        html = str(Form(initial={"day": dt.date(2026, 12, 1)})["day"])
        assert 'type="date"' in html
        assert 'value="2026-12-01"' in html
        bound = Form({"day": "2026-12-01"})
        assert bound.is_valid()
        assert bound.cleaned_data["day"] == dt.date(2026, 12, 1)
        assert 'value="2026-12-01"' in str(Form({"day": "2026-12-01"})["day"])
