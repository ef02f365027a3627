"""Delivery channels: plugins that render a suggestion for one chat tool or webhook.

Each channel is a :class:`~services.suggestions.channels.base.Channel` subclass with a unique ``kind``,
registered with one checked line, ``@register_channel``. Built in: ``webhook`` (signed generic JSON), ``slack``
(Block Kit, incoming webhook), ``feishu`` (interactive card, custom bot) and ``wecom`` (template card).

How to add a channel: write ``channels/<kind>.py`` with a ``Channel`` subclass (``kind`` and ``payload``; override
``request`` to sign and ``body_error`` when the API reports errors in a 200 response), decorate it with
``@register_channel``, import it at the bottom of this file, and add ``tests/suggestions/test_channel_<kind>.py``.
"""

from __future__ import annotations

from services.common.errors import InvalidArgument
from services.suggestions.channels.base import Channel, ChannelConfig, OutgoingRequest, OutgoingSuggestion

CHANNELS: dict[str, type[Channel]] = {}


def register_channel(cls: type[Channel]) -> type[Channel]:
    """Register a channel class under its ``kind``; a missing or duplicate kind is a programming error."""
    kind = getattr(cls, "kind", "")
    if not kind or not kind.isidentifier():
        raise TypeError(f"{cls.__name__} needs a 'kind' identifier")
    if kind in CHANNELS and CHANNELS[kind] is not cls:
        raise ValueError(f"channel kind {kind!r} is already registered by {CHANNELS[kind].__name__}")
    CHANNELS[kind] = cls
    return cls


def build_channel(config: ChannelConfig) -> Channel:
    """The channel plugin ``config.kind`` names, configured."""
    cls = CHANNELS.get(config.kind)
    if cls is None:
        raise InvalidArgument(f"unknown channel kind {config.kind!r} (known: {', '.join(sorted(CHANNELS))})")
    return cls(config)


# Built-in channels register themselves on import.
from services.suggestions.channels import feishu, slack, webhook, wecom  # noqa: E402, F401

__all__ = [
    "CHANNELS",
    "Channel",
    "ChannelConfig",
    "OutgoingRequest",
    "OutgoingSuggestion",
    "build_channel",
    "register_channel",
]
