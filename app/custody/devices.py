"""Devices: who owns a device row, and the signing key bound to it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.auth.models import DeviceToken, User
from app.custody.models import Device
from app.errors import Conflict, ValidationFailed


def register_device_key(
    session: Session, user: User, token: DeviceToken | None, device_id: str, public_key: bytes
) -> bool:
    """Bind an Ed25519 key to a device of this token (or web account); True when new.

    A device keeps its first key: another key for it is a Conflict (a new phone or a
    lost key gets a new device_id), so nobody can swap in a key to sign for it.
    """
    if len(public_key) != 32:
        raise ValidationFailed("public_key harus kunci Ed25519 (32 bita, base64url).")
    owner = device_owner(user, token)
    device = session.get(Device, (device_id, owner))
    if device is None:
        device = Device(device_id=device_id, owner=owner, user_id=user.id, max_seq=0, seen=0)
        session.add(device)
    if device.public_key == public_key:
        return False
    if device.public_key is not None:
        raise Conflict(
            "Perangkat ini sudah punya kunci lain; pakai device_id baru untuk kunci baru."
        )
    device.public_key = public_key
    session.commit()
    return True


def device_owner(user: User, token: DeviceToken | None) -> str:
    """Who a device row belongs to: the device token, else the signed-in account (web)."""
    return f"t:{token.id.hex}" if token is not None else f"u:{user.id.hex}"
