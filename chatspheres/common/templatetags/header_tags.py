"""``{% fixed_url %}``, ``{% fixed_static %}``: the layout's addresses, found once per process.

Every page's header and footer name about twenty addresses that never change
while the process runs: the same views, the same static files. Django's
``{% url %}`` and ``{% static %}`` work each one out again on every render
(tens of microseconds apiece); these remember the answer. They are for
addresses that do not depend on the page: a name and constant arguments.

What an address depends on is part of the key (the URL configuration, the
script prefix, the language), and tests that change the settings behind it
empty the memory, so an answer is never one another configuration gave.
Nothing about members is kept: only where the site's own pages and files are.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings
from django.core.signals import setting_changed
from django.templatetags.static import StaticNode
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.translation import get_language

register = template.Library()

# At most this many addresses: the layout names a few dozen, each with constant arguments.
_KEPT = 256
_urls: dict[tuple[Any, ...], str] = {}
_statics: dict[tuple[str, str], str] = {}
# Settings that change where a view or a file is served.
_SETTINGS = frozenset(
    {"ROOT_URLCONF", "STATIC_URL", "STATIC_ROOT", "STORAGES", "FORCE_SCRIPT_NAME"}
)


def _forget(*, setting: str, **kwargs: Any) -> None:
    if setting in _SETTINGS:
        _urls.clear()
        _statics.clear()


setting_changed.connect(_forget, dispatch_uid="chatspheres.common.header_tags")


@register.simple_tag
def fixed_url(name: str, **kwargs: str) -> str:
    """``{% url name key=value %}`` for a view whose address does not vary with the page."""
    key = (
        name,
        tuple(sorted(kwargs.items())),
        get_urlconf() or settings.ROOT_URLCONF,
        get_script_prefix(),
        get_language(),
    )
    found = _urls.get(key)
    if found is None:
        if len(_urls) >= _KEPT:
            _urls.clear()
        found = _urls[key] = reverse(name, kwargs=kwargs or None)
    return found


@register.simple_tag
def fixed_static(path: str) -> str:
    """``{% static path %}`` for the layout's own files."""
    # A relative STATIC_URL is served under the script prefix.
    key = (path, get_script_prefix())
    found = _statics.get(key)
    if found is None:
        if len(_statics) >= _KEPT:
            _statics.clear()
        found = _statics[key] = StaticNode.handle_simple(path)
    return found
