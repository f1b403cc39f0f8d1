"""What safety adds to the real-time side: keeping relayed chat lines in the report buffer."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from django.conf import settings

from chatspheres.calls.hooks import chat_listener_register
from chatspheres.realtime.registry import registry
from chatspheres.realtime.runtime import Runtime
from chatspheres.safety.chatbuffer import ChatBuffer, RedisChatBuffer, line_for, memory_buffer


def build_chat_buffer(runtime: Runtime) -> ChatBuffer:
    """This process's memory, or the site's Redis when it has one (every process shares it)."""
    if runtime.redis is None:
        return memory_buffer()
    return RedisChatBuffer(writer=runtime.redis, reader=None, key_prefix=settings.REDIS_KEY_PREFIX)


registry.provide(ChatBuffer, build_chat_buffer)  # type: ignore[type-abstract]


async def keep_chat_line(
    runtime: Runtime, conversation: str, user_id: int, text: str, at: datetime
) -> None:
    """Keep a relayed line for a while, in case one of the two reports the other."""
    buffer = cast(ChatBuffer, runtime.get(ChatBuffer))
    await buffer.push(conversation, line_for(user_id=user_id, text=text, at=at))


chat_listener_register(keep_chat_line)
