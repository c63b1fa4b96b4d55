"""Role and region-scope checks shared by every page and API endpoint."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g, request
from flask_babel import gettext as _
from flask_login import current_user

from app.auth.models import Role, User
from app.errors import Forbidden, NotFound, Unauthorized
from app.plan import codes

F = TypeVar("F", bound=Callable[..., Any])

#: What each role may do. Views name an ability, never a list of roles.
ABILITIES: dict[str, frozenset[Role]] = {
    "view": frozenset(Role),
    "plan.edit": frozenset({Role.ADMIN, Role.GUDANG}),
    "labels.issue": frozenset({Role.ADMIN, Role.GUDANG}),
    "labels.void": frozenset({Role.ADMIN, Role.GUDANG}),
    "scan": frozenset({Role.ADMIN, Role.GUDANG, Role.KURIR}),
    "desk": frozenset({Role.ADMIN, Role.DESK, Role.PENGAWAS}),
    "admin": frozenset({Role.ADMIN}),
}


def acting_user() -> User | None:
    """Return the user behind this request: a session login or a device token."""
    user = getattr(g, "token_user", None)
    if user is not None:
        return user
    if current_user and current_user.is_authenticated:
        return current_user._get_current_object()  # type: ignore[no-any-return]
    return None


def signed_in_user() -> User:
    """The acting user inside a view guarded by :func:`require` (raises if there is none)."""
    user = acting_user()
    if user is None:
        raise Unauthorized("Silakan masuk terlebih dahulu.")
    return user


def can(user: User, ability: str) -> bool:
    """Return whether the user's role has ``ability``."""
    return user.role in ABILITIES[ability]


def require(ability: str) -> Callable[[F], F]:
    """Decorator: the request needs a signed-in user whose role has ``ability``."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            user = acting_user()
            if user is None:
                raise Unauthorized(_("Silakan masuk terlebih dahulu."))
            if not can(user, ability):
                raise Forbidden(_("Peran Anda tidak berwenang untuk tindakan ini."))
            return view(*args, **kwargs)

        wrapped.required_ability = ability  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorate


def in_scope(user: User, code: str) -> bool:
    """Return whether a region code, node code or TPS id lies in the user's scope."""
    return codes.within(code, user.scope_code)


def check_scope(user: User, code: str) -> None:
    """Raise NotFound for anything outside the user's scope: no leak of what exists."""
    try:
        inside = in_scope(user, code)
    except ValueError:
        inside = False
    if not inside:
        raise NotFound(_("Data tidak ditemukan."))


def scope_overlaps(user: User, code: str) -> bool:
    """Return whether ``code`` is inside the scope or contains it (a parent region)."""
    scope = user.scope_code
    region = codes.node_region(scope) if codes.TPS_ID.match(scope) else scope
    return in_scope(user, code) or region == code or region.startswith(code + ".")


def wants_json() -> bool:
    """Return whether the client asked for JSON (API paths always do)."""
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )
