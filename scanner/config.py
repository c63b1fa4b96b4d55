"""The courier client's per-user files: configuration, public keys, plan slice, outbox.

All live in one folder: ``$TEPAT_SCAN_HOME`` if set, else ``$XDG_CONFIG_HOME/tepat-scan``
or ``~/.config/tepat-scan``. Files are replaced atomically (write, fsync, rename) so a
kill mid-write leaves the old version, never half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from scanner.errors import ConfigError
from scanner.plan import ACTIONS, PlanSlice

ENV_HOME = "TEPAT_SCAN_HOME"


def default_home() -> Path:
    """Folder holding the client's files."""
    explicit = os.environ.get(ENV_HOME)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "tepat-scan"


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """What ``tepat-scan config`` stores."""

    server: str
    token: str
    node: str
    action: str
    device_id: str
    dedupe_seconds: float = 3.0

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ConfigError(f"aksi {self.action!r} tidak dikenal; pilih: {', '.join(ACTIONS)}")
        if not self.server.startswith(("http://", "https://")):
            raise ConfigError(f"alamat server harus http:// atau https://: {self.server!r}")
        if not self.token or not self.node:
            raise ConfigError("token dan node wajib diisi")
        if self.dedupe_seconds < 0:
            raise ConfigError("dedupe_seconds tidak boleh negatif")

    def updated(self, **changes: Any) -> ClientConfig:
        """A copy with the non-None ``changes`` applied."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def _write_atomic(path: Path, text: str, private: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        if private:
            os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ClientHome:
    """The client's folder and the files in it."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_home()

    @property
    def config_path(self) -> Path:
        return self.root / "config.json"

    @property
    def keys_path(self) -> Path:
        return self.root / "keys.json"

    @property
    def plan_path(self) -> Path:
        return self.root / "plan-slice.json"

    @property
    def device_key_path(self) -> Path:
        """The Ed25519 key that signs this device's events (0600, never leaves it)."""
        return self.root / "device-key.pem"

    @property
    def outbox_path(self) -> Path:
        return self.root / "outbox.sqlite3"

    def load_config(self) -> ClientConfig:
        """The stored configuration; ConfigError when there is none or it is broken."""
        try:
            data = json.loads(self.config_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(
                "Belum dikonfigurasi: jalankan 'tepat-scan config --server URL --token TOKEN "
                "--node NODE --action AKSI'"
            ) from None
        except (OSError, ValueError) as error:
            raise ConfigError(f"berkas konfigurasi rusak ({self.config_path}): {error}") from error
        try:
            return ClientConfig(**data)
        except TypeError as error:
            raise ConfigError(f"berkas konfigurasi tidak lengkap: {error}") from error

    def configure(
        self,
        server: str | None = None,
        token: str | None = None,
        node: str | None = None,
        action: str | None = None,
        dedupe_seconds: float | None = None,
    ) -> ClientConfig:
        """Create or update the configuration; the device id is made once and kept."""
        changes: dict[str, Any] = {
            "server": server,
            "token": token,
            "node": node,
            "action": action,
            "dedupe_seconds": dedupe_seconds,
        }
        if self.config_path.exists():
            config = self.load_config().updated(**changes)
        else:
            missing = [k for k in ("server", "token", "node") if changes[k] is None]
            if missing:
                raise ConfigError(
                    "konfigurasi pertama memerlukan " + ", ".join(f"--{m}" for m in missing)
                )
            config = ClientConfig(
                server=str(server),
                token=str(token),
                node=str(node),
                action=action or "terima",
                device_id=str(uuid.uuid4()),
                dedupe_seconds=3.0 if dedupe_seconds is None else dedupe_seconds,
            )
        _write_atomic(self.config_path, json.dumps(asdict(config), indent=2), private=True)
        return config

    def save_keys(self, text: str) -> None:
        """Store an exported public key set (already validated by the caller)."""
        _write_atomic(self.keys_path, text)

    def load_keys(self) -> str | None:
        """The stored public key set, or None before the first import."""
        try:
            return self.keys_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def save_plan(self, document: dict[str, Any]) -> PlanSlice:
        """Validate and store a plan slice."""
        plan = PlanSlice.from_json(document)
        _write_atomic(self.plan_path, json.dumps(document))
        return plan

    def load_plan(self) -> PlanSlice | None:
        """The stored plan slice, or None before the first download."""
        try:
            return PlanSlice.from_json(json.loads(self.plan_path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except ValueError as error:
            raise ConfigError(f"plan slice rusak ({self.plan_path}): {error}") from error
