"""Input bounds at the edge: JSON nesting, NUL characters, instants and integer ranges.

Every request passes here before a view reads it, so input no database or parser can hold
(a NUL in PostgreSQL text, JSON nested 100,000 deep, year 1 in a time zone east of UTC)
becomes a 400 with a message instead of a 500.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from flask import Flask, request
from flask.json.provider import DefaultJSONProvider

from app.errors import BadRequest
from app.timeutil import parse_instant

#: Deeper JSON is refused before it is parsed (our deepest body nests 3 levels).
MAX_JSON_DEPTH = 32
#: The widest integer every database column we write holds (PostgreSQL INTEGER).
MAX_INT32 = 2**31 - 1
#: Instants outside this range are typing errors or attacks, never scans.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)

#: A string, or an unterminated one up to the end: possessive, so it never backtracks.
_STRING = re.compile(rb'"[^"\\]*+(?:\\.?[^"\\]*+)*+(?:"|\Z)', re.DOTALL)
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")


def json_depth_exceeds(data: bytes | str, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when the JSON text opens more than ``limit`` arrays/objects at once.

    Strings are dropped first (they may hold brackets), then innermost pairs are removed
    at most ``limit`` times: linear per pass, nothing recurses. Depths between ``limit``
    and ``2 * limit`` may pass, which the parser handles well.
    """
    raw = data.encode() if isinstance(data, str) else data
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKET)
    # Each pass removes one or two levels (the pairs empty now, then those it emptied).
    for _ in range(limit):
        shorter = brackets.replace(b"[]", b"").replace(b"{}", b"")
        if not shorter or shorter == brackets:  # all gone, or unbalanced: invalid anyway
            return bool(shorter)
        brackets = shorter
    return True


def has_nul(value: Any) -> bool:
    """True when a string anywhere inside ``value`` holds a NUL (PostgreSQL text cannot)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v) for v in value)
    return False


def bounded_instant(text: str) -> datetime:
    """Parse an ISO-8601 instant between 2000 and 2100; ValueError otherwise."""
    try:
        moment = parse_instant(text)
    except (ValueError, OverflowError) as exc:  # year 1 at +07:00 overflows into year 0
        raise ValueError(str(exc)) from None
    if not EARLIEST <= moment < LATEST:
        raise ValueError("instant outside 2000..2099")
    return moment


def int_in_range(value: Any, minimum: int = 0, maximum: int = MAX_INT32) -> bool:
    """True for a JSON integer (not a bool) within [minimum, maximum]."""
    return isinstance(value, int) and not isinstance(value, bool) and minimum <= value <= maximum


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider, refusing deeply nested input before the recursive parser runs."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse JSON; ValueError (a 400 from ``request.get_json``) when nested too deep."""
        if json_depth_exceeds(s):
            raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        try:
            return super().loads(s, **kwargs)
        except RecursionError as exc:  # not reachable after the check; never a 500 anyway
            raise ValueError("JSON nested too deep") from exc


def refuse_nul_in_request() -> None:
    """Refuse NUL in the path, the query and form fields of any request."""
    if "\x00" in request.path or any(
        "\x00" in k or "\x00" in v for k, v in request.args.items(multi=True)
    ):
        raise BadRequest("Alamat atau parameter berisi karakter NUL.")
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data") and any(
        "\x00" in k or "\x00" in v for k, v in request.form.items(multi=True)
    ):
        raise BadRequest("Isian formulir berisi karakter NUL.")


def init_app(app: Flask) -> None:
    """Install the bounded JSON provider and the NUL check."""
    app.json = BoundedJSONProvider(app)
    app.before_request(refuse_nul_in_request)
