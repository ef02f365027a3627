"""Last line of defence before anything leaves: refuse a body that looks like it holds a raw contact value.

Suggestions are built from redacted text only, so this should never fire; when it does, the delivery is
``blocked`` (logged without the body) instead of sent.
"""

from __future__ import annotations

import re

PATTERNS = {
    "EMAIL": re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
    "CN_MOBILE": re.compile(r"(?<![\dA-Za-z])(?:\+?86[- ]?)?1[3-9]\d{9}(?![\dA-Za-z])"),
    "CN_ID": re.compile(r"(?<![\dA-Za-z])\d{17}[\dXx](?![\dA-Za-z])"),
    "CARD": re.compile(r"(?<![\dA-Za-z])(?:\d[ -]?){15,18}\d(?![\dA-Za-z])"),
}


def raw_pii_types(text: str) -> list[str]:
    """Names of the raw-value patterns found in ``text`` (empty when it looks clean)."""
    return [name for name, pattern in PATTERNS.items() if pattern.search(text)]
