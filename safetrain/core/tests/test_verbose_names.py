"""UX-02: the Django admin names every app and every model in Chinese (the model names were English)."""

from __future__ import annotations

import re

from django.apps import apps
from django.utils import translation

LATIN = re.compile(r"[A-Za-z]")


def test_ux_02_every_app_and_model_has_a_chinese_name():
    wrong = []
    with translation.override("zh-hans"):
        for app in apps.get_app_configs():
            if not app.name.startswith("safetrain."):
                continue
            if LATIN.search(str(app.verbose_name)):
                wrong.append(app.label)
            for model in app.get_models():
                for name in (model._meta.verbose_name, model._meta.verbose_name_plural):
                    if LATIN.search(str(name)):
                        wrong.append(f"{model._meta.label}: {name}")
    assert wrong == []


def test_ux_02_admin_list_columns_are_chinese():
    from django.contrib import admin
    from django.contrib.admin.utils import label_for_field

    wrong = []
    with translation.override("zh-hans"):
        for model, model_admin in admin.site._registry.items():
            if not model.__module__.startswith("safetrain."):
                continue
            for name in model_admin.list_display:
                if not isinstance(name, str) or name in ("pk", "id", "__str__"):
                    continue
                label = str(label_for_field(name, model, model_admin))
                if LATIN.search(re.sub(r"ID|IP|SHA|PDF|Excel", "", label)):
                    wrong.append(f"{model._meta.label}.{name}: {label}")
    assert wrong == []


def test_ux_02_the_admin_index_names_third_party_apps_and_models_in_chinese(world, web_client):
    """Axes and django-otp name themselves in English; the index shows Chinese names for them too."""
    html = web_client(world.operator).get("/admin/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    for english in (
        "Axes",
        "Access attempts",
        "Access failures",
        "Access logs",
        "TOTP devices",
        "Otp_Totp",
        "Model name",
        "Add link",
        "Change or view list link",
    ):
        assert english not in html, english
    assert "身份验证器设备" in html
    assert "登录尝试" in html
