"""The server's label-signing keys: PEM files and a public keyring in ``TEPAT_KEY_DIR``.

The folder lives outside the database and the repository (default ``instance/keys``).
``keyring.json`` lists every public key with its status; ``<key_id>.pem`` holds a private
key. Rotation: add a new active key, retire the old one; retired keys still verify.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from labels import Keyring, KeyStatus, Signer, SigningKey

KEYRING_FILE = "keyring.json"


class KeyStoreError(Exception):
    """The key folder is missing, empty or inconsistent."""


def _keyring_path(key_dir: Path) -> Path:
    return key_dir / KEYRING_FILE


def load_keyring(key_dir: str | Path) -> Keyring:
    """Return the public keyring (raises KeyStoreError when no keys were created)."""
    path = _keyring_path(Path(key_dir))
    if not path.exists():
        raise KeyStoreError(
            f"Belum ada kunci penanda tangan di {key_dir}; jalankan 'flask keys init'."
        )
    return Keyring.from_json(path.read_text())


def save_keyring(key_dir: str | Path, keyring: Keyring) -> None:
    """Write the public keyring next to the private keys."""
    _keyring_path(Path(key_dir)).write_text(keyring.to_json())


def new_key_id(keyring: Keyring, today: date) -> str:
    """Return a fresh key id such as ``k2024a``, ``k2024b``."""
    for suffix in "abcdefghijklmnopqrstuvwxyz":
        candidate = f"k{today.year}{suffix}"
        if candidate not in keyring:
            return candidate
    raise KeyStoreError("Terlalu banyak kunci tahun ini.")


def create_key(key_dir: str | Path, today: date) -> str:
    """Create a new active signing key; earlier keys stay as they are. Returns its id."""
    folder = Path(key_dir)
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    keyring = load_keyring(folder) if _keyring_path(folder).exists() else Keyring()
    key_id = new_key_id(keyring, today)
    key = SigningKey.generate(key_id)
    key.save(folder / f"{key_id}.pem")
    keyring.add(key_id, key, KeyStatus.ACTIVE)
    save_keyring(folder, keyring)
    return key_id


def retire_key(key_dir: str | Path, key_id: str) -> None:
    """Retire a key: it verifies old labels but signs no new ones."""
    keyring = load_keyring(key_dir)
    keyring.retire(key_id)
    save_keyring(key_dir, keyring)


def load_signer(key_dir: str | Path) -> Signer:
    """Return a signer for the newest active key whose private half is on this server."""
    folder = Path(key_dir)
    keyring = load_keyring(folder)
    for key_id in reversed(keyring.active_key_ids):
        pem = folder / f"{key_id}.pem"
        if pem.exists():
            return keyring.signer(SigningKey.load(pem))
    raise KeyStoreError("Tidak ada kunci aktif untuk menandatangani label.")
