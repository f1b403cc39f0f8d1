"""Unhurried direct messages between two members: threads, messages, each side's reading.

A thread has two ``ThreadMember`` rows, one per side (like ``connections.Bond``),
so a member's list, unread counts and reading position come from one indexed
table. Messages are ordered by id: the cursor for older ones is an id, which
never skips or repeats a message however many arrive meanwhile.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from chatspheres.common.models import BaseModel

# The longest message, in characters.
MESSAGE_MAX_LENGTH = 4000


class Thread(BaseModel):
    """The one conversation in writing between two members (``low`` has the smaller id)."""

    low = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    high = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["low", "high"], name="thread_once_per_pair"),
            models.CheckConstraint(condition=Q(low__lt=F("high")), name="thread_low_first"),
        ]

    def __str__(self) -> str:
        return f"thread {self.low_id}-{self.high_id}"


class ThreadMember(BaseModel):
    """One side of a thread: whom it is with, how far they read, how many are unread."""

    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    other = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # The id of the newest message this side has seen (0: none).
    read_upto = models.BigIntegerField(default=0)
    unread = models.PositiveIntegerField(default=0)
    last_message_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["user", "other"], name="thread_member_once"),
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["user", "-last_message_at"], name="thread_member_list"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} with {self.other_id}"


class Message(BaseModel):
    """One message; ``client_key`` comes from the sender's page: a retried send is stored once."""

    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="messages")
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    body = models.TextField()
    client_key = models.CharField(max_length=64)

    class Meta:
        ordering: ClassVar[list[str]] = ["id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["sender", "client_key"], name="message_key_once"),
        ]
        indexes: ClassVar[list[models.Index]] = [
            # The thread page and its cursor: a thread's messages by id.
            models.Index(fields=["thread", "-id"], name="message_cursor"),
        ]

    def __str__(self) -> str:
        return f"message {self.pk} in {self.thread_id}"


class MessagingSettings(BaseModel):
    """A member's choices about messages (read receipts are off until they turn them on)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="messaging_settings"
    )
    read_receipts = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"messaging settings of {self.user_id}"
