"""Language detection by script counting: ``zh``, ``en`` or ``mixed``.

Han characters and Latin words are counted outside e-mail addresses and URLs (an address in a Chinese message
does not make it English). A Latin word weighs as much as two Han characters.
"""

from __future__ import annotations

import re

LANGUAGES = ("zh", "en", "mixed")

_SKIP = re.compile(r"[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9.\-]{1,255}|https?://[^\s\u3000-\u9fff]{1,2000}")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z\uff21-\uff3a\uff41-\uff5a]{2,}")

#: Share of Han weight at or above which a text is Chinese; at or below ``1 - ZH_SHARE`` it is English.
ZH_SHARE = 0.8


def detect_language(text: str) -> str:
    """Return ``"zh"``, ``"en"`` or ``"mixed"`` for ``text`` (``"en"`` when it has no letters at all)."""
    stripped = _SKIP.sub(" ", text)
    han = len(_HAN.findall(stripped))
    latin = 2 * len(_LATIN_WORD.findall(stripped))
    if han == 0:
        return "en"
    if latin == 0:
        return "zh"
    share = han / (han + latin)
    if share >= ZH_SHARE:
        return "zh"
    if share <= 1 - ZH_SHARE:
        return "en"
    return "mixed"
