"""The channel registry: built-ins registered once each, unknown kinds and duplicate registrations refused."""

from __future__ import annotations

from typing import Any

import pytest

from services.common.errors import InvalidArgument
from services.suggestions.channels import CHANNELS, Channel, ChannelConfig, build_channel, register_channel


def test_builtin_channels_are_registered() -> None:
    assert {"webhook", "slack", "feishu", "wecom"} <= set(CHANNELS)
    assert all(cls.kind == kind for kind, cls in CHANNELS.items())


def test_unknown_kind_is_bad_input() -> None:
    with pytest.raises(InvalidArgument, match="unknown channel kind 'pigeon'"):
        build_channel(ChannelConfig(name="x", kind="pigeon", url="https://example.invalid"))


def test_a_kind_is_registered_once() -> None:
    class Dup(Channel):
        kind = "slack"

        def payload(self, message: Any, *, idempotency_key: str, now: float) -> dict[str, Any]:
            return {}

    with pytest.raises(ValueError, match="already registered"):
        register_channel(Dup)
    with pytest.raises(TypeError, match="needs a 'kind'"):
        register_channel(type("NoKind", (Dup,), {"kind": ""}))


def test_the_secret_is_never_printed() -> None:
    config = ChannelConfig(name="x", kind="webhook", url="https://example.invalid", secret="s3cret")
    assert "s3cret" not in repr(config) and "s3cret" not in str(config.model_dump())
