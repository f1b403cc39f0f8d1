"""Notes stay with their author: no page, answer, frame or admin screen shows them to others."""

from __future__ import annotations

import pytest
from django.test import Client

from chatspheres.accounts.models import User
from chatspheres.calls.events import MatchFound
from chatspheres.calls.services import conversation_end, conversation_start
from chatspheres.common.events import Captured, ToTab
from chatspheres.connections.models import Note
from chatspheres.connections.services import follow_create, note_create, talk_again_wish
from chatspheres.spheres.models import Sphere
from tests.conftest import make_member
from tests.connections.helpers import talk

pytestmark = pytest.mark.django_db

SECRET = "secret-marker"


@pytest.fixture
def cast(sphere: Sphere) -> dict[str, User]:
    """Ana wrote notes about Ben and Cleo; all three have talked, and are connected and follow."""
    people = {
        name: make_member(f"{name}@example.com", name=name.title())
        for name in ("ana", "ben", "cleo", "zoe")
    }
    ana, ben, cleo = people["ana"], people["ben"], people["cleo"]
    for a, b in ((ana, ben), (ana, cleo), (ben, cleo)):
        conversation = talk(sphere, a, b, a_rating="good", b_rating="good")
        talk_again_wish(wisher_id=a.pk, about_id=b.pk)
        talk_again_wish(wisher_id=b.pk, about_id=a.pk)
        follow_create(follower_id=a.pk, followee_id=b.pk)
        follow_create(follower_id=b.pk, followee_id=a.pk)
        for n in range(3):
            note_create(
                author_id=a.pk,
                about_id=b.pk,
                text=f"{SECRET} {a.pk}-{b.pk}-{n}",
                conversation_id=conversation.pk if n == 0 else None,
            )
    return people


def attempts(client: Client, people: dict[str, User]) -> list[tuple[str, int, str]]:
    """Every address connections adds, asked in every way, with every note id there is."""
    answers = []

    def record(label: str, response: object) -> None:
        answers.append((label, response.status_code, response.content.decode()))  # type: ignore[attr-defined]

    handles = [person.profile.handle for person in people.values()] + ["nobody-at-all"]
    notes = list(Note.objects.values_list("pk", flat=True))
    public_ids = [
        side.conversation.public_id
        for person in people.values()
        for side in person.conversation_sides.select_related("conversation")
    ]
    record("people", client.get("/people/"))
    for handle in handles:
        record(f"person {handle}", client.get(f"/people/{handle}/"))
        for public_id in public_ids:
            record(
                f"after {handle}",
                client.get(f"/people/{handle}/after/{public_id}/", HTTP_ACCEPT="application/json"),
            )
        for note_id in notes:
            for accept in ("application/json", "text/html"):
                record(
                    f"edit {note_id} via {handle}",
                    client.post(
                        f"/people/{handle}/notes/{note_id}/",
                        {"text": "overwritten"},
                        HTTP_ACCEPT=accept,
                    ),
                )
                record(
                    f"delete {note_id} via {handle}",
                    client.post(f"/people/{handle}/notes/{note_id}/delete/", HTTP_ACCEPT=accept),
                )
    for note_id in notes:
        for path in (
            "/admin/connections/note/",
            f"/admin/connections/note/{note_id}/change/",
            f"/admin/connections/note/?q={SECRET}",
        ):
            record(path, client.get(path))
    return answers


@pytest.mark.parametrize("intruder", ["ben", "cleo", "zoe"])
def test_nobody_reads_changes_or_deletes_another_members_notes(
    client: Client, cast: dict[str, User], intruder: str
) -> None:
    ana_notes = {note.pk: note.text for note in Note.objects.filter(author=cast["ana"])}
    client.force_login(cast[intruder])
    answers = attempts(client, cast)
    leaked = [label for label, _status, body in answers if f"{SECRET} {cast['ana'].pk}-" in body]
    assert len(answers) > 200
    assert leaked == []
    assert {note.pk: note.text for note in Note.objects.filter(author=cast["ana"])} == ana_notes


def test_the_author_sees_their_own_notes_and_staff_see_none(
    client: Client, cast: dict[str, User]
) -> None:
    ana, ben = cast["ana"], cast["ben"]
    client.force_login(ana)
    page = client.get(f"/people/{ben.profile.handle}/").content.decode()
    assert page.count(f"{SECRET} {ana.pk}-{ben.pk}-") == 3 * 2  # each shown, and in its edit box
    staff = User.objects.create_superuser(email="staff@example.com", password="x" * 20)
    client.force_login(staff)
    assert client.get("/admin/connections/note/").status_code == 404
    assert SECRET not in client.get("/admin/").content.decode()


def test_a_note_is_edited_and_deleted_by_its_author(client: Client, cast: dict[str, User]) -> None:
    ana, ben = cast["ana"], cast["ben"]
    note = Note.objects.filter(author=ana, about=ben).first()
    assert note is not None
    client.force_login(ana)
    response = client.post(
        f"/people/{ben.profile.handle}/notes/{note.pk}/",
        {"text": "Ran the Berlin marathon"},
        follow=True,
    )
    assert "Note saved. Only you can see it." in response.content.decode()
    assert "Ran the Berlin marathon" in response.content.decode()
    response = client.post(f"/people/{ben.profile.handle}/notes/{note.pk}/delete/", follow=True)
    assert "Note deleted." in response.content.decode()
    assert not Note.objects.filter(pk=note.pk).exists()
    empty = client.post(
        f"/people/{ben.profile.handle}/notes/", {"text": "   "}, HTTP_ACCEPT="application/json"
    )
    assert empty.status_code == 400 and empty.json()["error"] == "bad_note"


def test_a_recap_frame_carries_only_the_viewers_own_notes(
    sphere: Sphere, cast: dict[str, User], sent_events: Captured
) -> None:
    ana, ben = cast["ana"], cast["ben"]
    note_create(author_id=ben.pk, about_id=ana.pk, text="Ben's own note about Ana")
    conversation = conversation_start(
        sphere_id=sphere.pk,
        a_user_id=ana.pk,
        a_tab="ana-tab",
        b_user_id=ben.pk,
        b_tab="ben-tab",
        shared_interests=[],
    )
    to_ana, to_ben = (
        next(
            event for event in sent_events.to(ToTab(user.pk, tab)) if isinstance(event, MatchFound)
        )
        for user, tab in ((ana, "ana-tab"), (ben, "ben-tab"))
    )
    assert [note.text for note in to_ben.recap.notes] == ["Ben's own note about Ana"]
    assert all(note.text.startswith(f"{SECRET} {ana.pk}-{ben.pk}-") for note in to_ana.recap.notes)
    assert SECRET not in str(to_ben)
    conversation_end(conversation=conversation, by_user_id=ana.pk, reason="ended")
