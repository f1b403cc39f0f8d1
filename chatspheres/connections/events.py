"""What the connections app's plans tell both members' tabs (docs/protocol.md, "Plans")."""

from __future__ import annotations

from chatspheres.realtime.protocol import Event


class PlanChanged(Event, tag="plan.changed"):
    """A plan moved on: each of the two is sent their own copy, in their own words and zone.

    ``change`` is what happened (``proposed``, ``suggested``, ``move_asked``,
    ``confirmed``, ``moved``, ``cancelled``, ``kept``, ``missed``);
    ``with_handle`` is the other person of the plan for this recipient, so a
    page knows whether it shows that plan; ``words`` say it for a screen reader
    ("Ana accepted Sun 10:00, 6 Dec"). Pages fetch the plan's fragment again.
    """

    plan: str
    with_handle: str
    state: str
    version: int
    change: str
    words: str
