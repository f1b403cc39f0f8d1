"""The layout's addresses, remembered: the same as Django's tags give, for each configuration."""

from __future__ import annotations

from typing import Any

from django.template import Context, Template
from django.templatetags.static import static
from django.urls import reverse

from chatspheres.common.templatetags import header_tags


def render(source: str) -> str:
    return Template("{% load header_tags %}" + source).render(Context({}))


def test_an_address_is_the_one_url_gives() -> None:
    assert render("{% fixed_url 'spheres:list' %}") == reverse("spheres:list")
    assert render("{% fixed_url 'calls:call_answer' ring='__ring__' %}") == reverse(
        "calls:call_answer", kwargs={"ring": "__ring__"}
    )
    assert render("{% fixed_static 'css/app.css' %}") == static("css/app.css")
    # Asked again, it is remembered, and still the same.
    assert render("{% fixed_url 'spheres:list' %}") == reverse("spheres:list")
    assert any(key[0] == "spheres:list" for key in header_tags._urls)


def test_another_script_prefix_is_another_address() -> None:
    from django.urls import set_script_prefix

    plain = render("{% fixed_url 'spheres:list' %}")
    set_script_prefix("/under/")
    try:
        assert render("{% fixed_url 'spheres:list' %}") == "/under" + plain
    finally:
        set_script_prefix("/")
    assert render("{% fixed_url 'spheres:list' %}") == plain


def test_changing_the_settings_forgets_what_was_remembered(settings: Any) -> None:
    render("{% fixed_url 'spheres:list' %}{% fixed_static 'css/app.css' %}")
    assert header_tags._urls and header_tags._statics
    settings.STATIC_URL = "/assets/"
    assert not header_tags._urls and not header_tags._statics
    assert render("{% fixed_static 'css/app.css' %}") == "/assets/css/app.css"
