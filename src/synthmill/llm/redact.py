"""Keep secrets out of everything written: errors, rejects, logs, stats.

Servers sometimes echo the request (Authorization header included) in an error body, so
every error text from a backend passes through `redact` before it is stored or logged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator

MASK = "[REDACTED]"
_BEARER = re.compile(r"(?i)\b(bearer)(\s+|%20)(?!\[REDACTED\])[^\s\"',;}\]]+")
_URL_USER = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@:]+(:[^/\s@]*)?@")
_MIN_SECRET = 4  # never mask a tiny string that would blank out ordinary text


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` with each secret, any `Bearer <token>` and URL user:password masked."""
    text = redact_secret(text, secrets)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
    return _URL_USER.sub(lambda m: f"{m.group(1)}{MASK}@", text)


def redact_secret(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Only the literal secrets masked (for model output, where 'Bearer x' may be data)."""
    for form in sorted(set(_forms(secrets)), key=len, reverse=True):
        text = text.replace(form, MASK)
    return text


def _forms(secrets: Iterable[str | None]) -> Iterator[str]:
    """Each secret as written raw and as a JSON encoder may escape it in an echoed body."""
    for secret in secrets:
        if secret and len(secret) >= _MIN_SECRET:
            yield secret
            yield json.dumps(secret)[1:-1]
            yield json.dumps(secret, ensure_ascii=False)[1:-1].replace("/", "\\/")
