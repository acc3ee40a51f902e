"""Keep secrets out of everything we store or raise: history rows, logs, XCom."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "***"


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every secret (and its URL-encoded forms) in ``text`` with ``***``."""
    for secret in secrets:
        if not secret or len(secret) < 3:  # masking 1-2 characters would shred the message
            continue
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            text = text.replace(form, MASK)
    return text
