"""``{% main_menu as menu %}``: the signed-in user's menu (see safetrain.accounts.menus)."""

from __future__ import annotations

from typing import Any

from django import template

from safetrain.accounts.menus import main_menu as build_main_menu

register = template.Library()


@register.simple_tag(takes_context=True)
def main_menu(context: template.Context) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    return build_main_menu(user, request.path if request is not None else "")
