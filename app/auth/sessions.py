"""Server-side sessions: sign-out, a password change and deactivation end them at once.

The Flask session cookie is signed but lives 31 days and a copy stays valid after
sign-out; so it carries a random session id too, checked against ``user_session`` on
every request.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid

from sqlalchemy import update
from sqlalchemy.orm import Session

from app.auth.models import User, UserSession
from app.timeutil import utcnow

#: The key of the session id in the Flask session.
SESSION_KEY = "sid"


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def start(session: Session, user: User) -> str:
    """Open a session for ``user``; return the id the cookie carries."""
    sid = secrets.token_urlsafe(32)
    session.add(UserSession(id_hash=_hash(sid), user_id=user.id))
    session.commit()
    return sid


def end(session: Session, sid: str | None) -> None:
    """End one session (sign-out)."""
    if sid:
        session.execute(
            update(UserSession)
            .where(UserSession.id_hash == _hash(sid), UserSession.ended_at.is_(None))
            .values(ended_at=utcnow())
        )
        session.commit()


def end_all(session: Session, user: User) -> None:
    """End every open session of ``user`` (password change, deactivation); no commit."""
    session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )


def user_for(session: Session, user_id: str, sid: str | None) -> User | None:
    """The active user of an open session whose id the cookie carries, else None."""
    if not sid or not isinstance(sid, str) or len(sid) > 100:
        return None
    row = session.get(UserSession, _hash(sid))
    if row is None or row.ended_at is not None or str(row.user_id) != user_id:
        return None
    try:
        user = session.get(User, uuid.UUID(user_id))
    except ValueError:
        return None
    return user if user is not None and user.active else None
