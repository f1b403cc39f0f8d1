"""Where apps plug into the real-time core.

Each app that has real-time parts says so in its own ``realtime.py``, at import
time, through the one :data:`registry`::

    @registry.message(QueueJoin)
    async def queue_join(tab: Tab, message: QueueJoin, text: str) -> None: ...

    registry.tab_state(CallState)           # per-tab state, tab.state(CallState)
    registry.observe(CallEnded, left_call)   # runs on the receiving tab before it sends
    registry.on_tab_closed(leave_queue)      # the tab's socket ended, for whatever reason

The core imports no app: at start-up :func:`autodiscover` imports the
``realtime`` module of every installed app (the way the admin finds
``admin.py``), and the gateway serves whatever they declared. Declaring one
message type twice is a programming error and stops the start-up.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import autodiscover_modules

from chatspheres.realtime.protocol import Event, Incoming, event_type

if TYPE_CHECKING:
    from chatspheres.realtime.hub import Envelope
    from chatspheres.realtime.runtime import Runtime
    from chatspheres.realtime.tab import Tab

T = TypeVar("T")
M = TypeVar("M", bound=Incoming)


class TabClosed(enum.Enum):
    """How a tab's socket ended."""

    # The page closed the socket itself (closed, reloaded, navigated away):
    # the tab is gone for good.
    CLOSED = "closed"
    # The socket dropped (network, a server going down): the tab may come back
    # within the grace period, on any process.
    LOST = "lost"
    # A newer socket of the same tab took over; the tab lives on there.
    REPLACED = "replaced"
    # The member's session ended (logout, password change, deactivation).
    SIGNED_OUT = "signed_out"


Handler = Callable[["Tab", Any, str], Awaitable[None]]
# Observers run synchronously on the receiving tab (on the relay's hot path
# too); they may update the tab's state, and return False to drop the frame.
Observer = Callable[["Tab", "Envelope"], bool]
TabClosedHook = Callable[["Tab", TabClosed], Awaitable[None]]
TabResumedHook = Callable[["Tab"], Awaitable[None]]
# A tab (of this process or another) has gone away: lost for good
# ("disconnected"), or closed ("left"). Called once, on one process.
TabEndedHook = Callable[["Runtime", str, int, str], Awaitable[None]]
TabsLostHook = Callable[["Runtime", list[tuple[str, int]]], Awaitable[None]]
RuntimeHook = Callable[["Runtime"], Awaitable[None]]
# The synchronous relay lane: take the frame text and handle it completely, or decline.
FastPath = Callable[["Tab", str], bool]


@dataclass(slots=True)
class Periodic:
    seconds: float
    hook: RuntimeHook


@dataclass
class Registry:
    """Everything the apps declared; the gateway and the runtime read it."""

    schemas: dict[str, type[Incoming]] = field(default_factory=dict)
    handlers: dict[type[Incoming], Handler] = field(default_factory=dict)
    events: dict[str, type[Event]] = field(default_factory=dict)
    observers: dict[str, Observer] = field(default_factory=dict)
    tab_states: list[type[Any]] = field(default_factory=list)
    tab_closed_hooks: list[TabClosedHook] = field(default_factory=list)
    tab_opened_hooks: list[TabResumedHook] = field(default_factory=list)
    tab_resumed_hooks: list[TabResumedHook] = field(default_factory=list)
    tab_resync_hooks: list[TabResumedHook] = field(default_factory=list)
    tab_ended_hooks: list[TabEndedHook] = field(default_factory=list)
    tabs_lost_hooks: list[TabsLostHook] = field(default_factory=list)
    hub_restored_hooks: list[RuntimeHook] = field(default_factory=list)
    startup_hooks: list[RuntimeHook] = field(default_factory=list)
    shutdown_hooks: list[RuntimeHook] = field(default_factory=list)
    periodic: list[Periodic] = field(default_factory=list)
    providers: dict[type[Any], Callable[[Runtime], Any]] = field(default_factory=dict)
    fast_path: FastPath | None = None
    _decoder: msgspec.json.Decoder[Any] | None = None

    # Incoming ---------------------------------------------------------------

    def message(self, schema: type[M]) -> Callable[[Handler], Handler]:
        """Declare an incoming frame type and (as a decorator) its handler."""
        tag = schema.__struct_config__.tag
        if not isinstance(tag, str) or not issubclass(schema, Incoming):
            raise ImproperlyConfigured(f"{schema!r} must subclass Incoming with a tag")
        if tag in self.schemas:
            raise ImproperlyConfigured(
                f"the message type {tag!r} is declared twice "
                f"({self.schemas[tag].__module__} and {schema.__module__})"
            )
        self.schemas[tag] = schema
        self._decoder = None

        def register(handler: Handler) -> Handler:
            self.handlers[schema] = handler
            return handler

        return register

    @property
    def decoder(self) -> msgspec.json.Decoder[Any]:
        """One decoder for every declared frame type (a tagged union)."""
        if self._decoder is None:
            if not self.schemas:
                raise ImproperlyConfigured("no real-time message types are declared")
            union = tuple(self.schemas.values())
            self._decoder = msgspec.json.Decoder(union[0] if len(union) == 1 else _union(union))
        return self._decoder

    # Outgoing ---------------------------------------------------------------

    def event(self, cls: type[Event]) -> type[Event]:
        """Declare an outgoing event type (a class decorator); twice is an error."""
        tag = event_type(cls)
        if tag in self.events and self.events[tag] is not cls:
            raise ImproperlyConfigured(f"the event type {tag!r} is declared twice")
        self.events[tag] = cls
        return cls

    def observe(self, event: type[Event] | str, observer: Observer) -> None:
        """Run ``observer`` on each receiving tab before an event of this type is sent.

        Several apps may observe one type; the frame is sent unless one of them says no.
        """
        tag = event if isinstance(event, str) else event_type(event)
        earlier = self.observers.get(tag)
        if earlier is None:
            self.observers[tag] = observer
            return

        def both(tab: Tab, envelope: Envelope) -> bool:
            first = earlier(tab, envelope)
            second = observer(tab, envelope)
            return first and second

        self.observers[tag] = both

    def relay_lane(self, fast_path: FastPath) -> FastPath:
        """Declare the synchronous relay lane's handler (there can be one)."""
        if self.fast_path is not None:
            raise ImproperlyConfigured("the relay lane already has a handler")
        self.fast_path = fast_path
        return fast_path

    # Tabs -------------------------------------------------------------------

    def tab_state(self, cls: type[T]) -> type[T]:
        """Give every tab an instance of ``cls`` (made with no arguments): ``tab.state(cls)``."""
        if cls in self.tab_states:
            raise ImproperlyConfigured(f"{cls!r} is registered twice as tab state")
        self.tab_states.append(cls)
        return cls

    def on_tab_closed(self, hook: TabClosedHook) -> TabClosedHook:
        """Run when a tab's socket ends on this process, however it ended."""
        self.tab_closed_hooks.append(hook)
        return hook

    def on_tab_opened(self, hook: TabResumedHook) -> TabResumedHook:
        """Run when a new tab is ready (after ``ready``): send it what is going on right now.

        A tab that resumes catches up from the event log instead; one told to
        resync gets the ``on_tab_resync`` hooks.
        """
        self.tab_opened_hooks.append(hook)
        return hook

    def on_tab_resumed(self, hook: TabResumedHook) -> TabResumedHook:
        """Run when a lost tab comes back on a new socket (before it catches up)."""
        self.tab_resumed_hooks.append(hook)
        return hook

    def on_tab_resync(self, hook: TabResumedHook) -> TabResumedHook:
        """Run when a tab came back too late to catch up: send it what it needs to reload."""
        self.tab_resync_hooks.append(hook)
        return hook

    def on_tab_ended(self, hook: TabEndedHook) -> TabEndedHook:
        """Run once, on one process, when a tab is gone for good: "left" or "disconnected"."""
        self.tab_ended_hooks.append(hook)
        return hook

    def on_tabs_lost(self, hook: TabsLostHook) -> TabsLostHook:
        """Run when tabs are found lost with a process that died; they may still come back."""
        self.tabs_lost_hooks.append(hook)
        return hook

    # The process ---------------------------------------------------------------

    def on_hub_restored(self, hook: RuntimeHook) -> RuntimeHook:
        """Run when the hub's shared store came back empty (Redis restarted): rebuild it."""
        self.hub_restored_hooks.append(hook)
        return hook

    def on_startup(self, hook: RuntimeHook) -> RuntimeHook:
        """Run when the server process starts, after the hub."""
        self.startup_hooks.append(hook)
        return hook

    def on_shutdown(self, hook: RuntimeHook) -> RuntimeHook:
        """Run when the server process stops, before the hub."""
        self.shutdown_hooks.append(hook)
        return hook

    def every(self, seconds: float) -> Callable[[RuntimeHook], RuntimeHook]:
        """Run the decorated coroutine function every ``seconds`` while the server runs."""

        def register(hook: RuntimeHook) -> RuntimeHook:
            self.periodic.append(Periodic(seconds, hook))
            return hook

        return register

    def provide(self, kind: type[T], factory: Callable[[Runtime], T]) -> None:
        """Let the runtime build a shared object of this kind (e.g. the matcher)."""
        if kind in self.providers:
            raise ImproperlyConfigured(f"{kind!r} is already provided")
        self.providers[kind] = factory


def _union(types: tuple[type[Incoming], ...]) -> Any:
    union: Any = types[0]
    for each in types[1:]:
        union = union | each
    return union


registry = Registry()


def autodiscover() -> None:
    """Import every installed app's ``realtime`` module, so that it registers what it serves."""
    autodiscover_modules("realtime", register_to=None)
