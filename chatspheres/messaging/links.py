"""A message's text as HTML: everything escaped, http(s) links made plain links, and links
to our own pages (a sphere, a person) shown as small cards from our own database.

The server never fetches a URL a member wrote (no previews): following a
member's link from the server would let anyone make it reach inside our network.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import reverse
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

# A link runs to the first space or angle bracket; closing punctuation is the sentence's.
URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
TRAILING = ".,;:!?)]}'\""
SPHERE_PATH = re.compile(r"^/spheres/([a-z0-9-]+)/?$")
PERSON_PATH = re.compile(r"^/people/([a-z0-9-]+)/?$")


@dataclass(frozen=True, slots=True)
class OwnPage:
    kind: str  # "sphere" or "person"
    key: str  # the slug or handle


def links_in(text: str) -> list[str]:
    """The http(s) links in a message, as written (without closing punctuation)."""
    return [_trim(match.group(0)) for match in URL.finditer(text)]


def _trim(url: str) -> str:
    while url and url[-1] in TRAILING:
        url = url[:-1]
    return url


def _own_hosts() -> set[str]:
    hosts = {urlsplit(settings.SITE_URL).netloc.lower()}
    hosts.update(host.lower() for host in settings.ALLOWED_HOSTS if host and host != "*")
    return hosts


def own_page(url: str, hosts: set[str] | None = None) -> OwnPage | None:
    """Which of our pages a link names, if it names one on this site."""
    parts = urlsplit(url)
    if parts.netloc.lower() not in (hosts if hosts is not None else _own_hosts()):
        return None
    for kind, pattern in (("sphere", SPHERE_PATH), ("person", PERSON_PATH)):
        match = pattern.match(parts.path)
        if match:
            return OwnPage(kind, match.group(1))
    return None


def own_pages_in(texts: Iterable[str]) -> set[OwnPage]:
    """Every page of ours that these messages link to (to look up all at once)."""
    hosts = _own_hosts()
    found = set()
    for text in texts:
        for url in links_in(text):
            page = own_page(url, hosts)
            if page is not None:
                found.add(page)
    return found


@dataclass(frozen=True, slots=True)
class Card:
    title: str
    subtitle: str
    href: str


def cards_for(pages: set[OwnPage], *, viewer_id: int) -> dict[OwnPage, Card]:
    """Cards for our pages in a fixed number of queries; none for people the viewer can't see."""
    from chatspheres.accounts.models import Profile
    from chatspheres.safety.selectors import blocked_ids_for
    from chatspheres.spheres.models import Sphere

    cards: dict[OwnPage, Card] = {}
    slugs = {page.key for page in pages if page.kind == "sphere"}
    handles = {page.key for page in pages if page.kind == "person"}
    if slugs:
        for slug, name, tagline in Sphere.objects.filter(slug__in=slugs).values_list(
            "slug", "name", "tagline"
        ):
            cards[OwnPage("sphere", slug)] = Card(
                name, tagline, reverse("spheres:detail", kwargs={"slug": slug})
            )
    if handles:
        from chatspheres.connections.models import Bond, Follow

        hidden = blocked_ids_for(viewer_id)
        rows = list(
            Profile.objects.filter(handle__in=handles).values_list(
                "user_id", "handle", "display_name"
            )
        )
        # The same people whose pages the viewer may open: no directory of strangers by card.
        known = (
            set(
                Bond.objects.filter(
                    user_id=viewer_id, other_id__in=[row[0] for row in rows], conversations__gt=0
                ).values_list("other_id", flat=True)
            )
            | set(
                Follow.objects.filter(
                    follower_id=viewer_id, followee_id__in=[row[0] for row in rows]
                ).values_list("followee_id", flat=True)
            )
            | {viewer_id}
        )
        for user_id, handle, name in rows:
            if user_id in hidden or user_id not in known:
                continue
            cards[OwnPage("person", handle)] = Card(
                name, "A member of ChatSpheres", reverse("connections:person", args=[handle])
            )
    return cards


def render_message(text: str, cards: dict[OwnPage, Card] | None = None) -> SafeString:
    """The message as HTML for a template (see :func:`message_html`)."""
    return mark_safe(message_html(text, cards))  # noqa: S308 - every piece is escaped


def message_html(text: str, cards: dict[OwnPage, Card] | None = None) -> str:
    """The message as HTML: escaped, links plain (nofollow, no opener, no referrer), cards after.

    A plain ``str`` (not a SafeString), so the socket's encoder can take it.
    """
    hosts = _own_hosts()
    pieces: list[str] = []
    shown: list[Card] = []
    position = 0
    for match in URL.finditer(text):
        url = _trim(match.group(0))
        end = match.start() + len(url)
        pieces.append(escape(text[position : match.start()]))
        pieces.append(
            format_html('<a href="{}" rel="nofollow noopener noreferrer">{}</a>', url, url)
        )
        position = end
        page = own_page(url, hosts)
        card = (cards or {}).get(page) if page is not None else None
        if card is not None and card not in shown:
            shown.append(card)
    pieces.append(escape(text[position:]))
    for card in shown:
        pieces.append(
            format_html(
                '<a class="message-card" href="{}"><strong>{}</strong><span>{}</span></a>',
                card.href,
                card.title,
                card.subtitle,
            )
        )
    return "".join(str.__str__(piece) for piece in pieces)
