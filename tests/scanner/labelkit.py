"""Real signed labels from ``labels`` for scanner tests and the stress set."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def _api() -> Any:
    package = importlib.import_module("labels")
    if hasattr(package, "encode") and hasattr(package, "SigningKey"):
        return package
    names: dict[str, Any] = {}
    for module in ("errors", "keys", "payload"):
        names.update(vars(importlib.import_module(f"labels.{module}")))
    return SimpleNamespace(**names)


def available() -> bool:
    """True when labels can sign (package or its modules importable)."""
    try:
        api = _api()
    except Exception:
        return False
    return all(hasattr(api, n) for n in ("encode", "SigningKey", "Keyring", "LabelPayload"))


@dataclass
class LabelKit:
    """A signing key, its exported keyring JSON, and a label factory."""

    api: Any
    signer: Any
    keys_json: str

    @classmethod
    def create(cls, key_id: str = "kpu-6210-1", seed: bytes | None = None) -> LabelKit:
        """A fresh key, or a fixed one from a 32-byte ``seed`` (reproducible labels)."""
        api = _api()
        if seed is None:
            key = api.SigningKey.generate(key_id)
        else:
            key = api.SigningKey(key_id, Ed25519PrivateKey.from_private_bytes(seed))
        keyring = api.Keyring()
        keyring.add(key_id, key)
        return cls(api, keyring.signer(key), keyring.to_json())

    def label(
        self,
        serial: str | None = None,
        item_type: str = "SURAT",
        destination: str = "6210052016001",
        race: str | None = "GUB",
        quantity: int = 420,
    ) -> str:
        payload = self.api.LabelPayload(
            serial=serial or self.api.new_serial(),
            item_type=item_type,
            destination=destination,
            race=race,
            quantity=quantity,
        )
        return str(self.api.encode(payload, self.signer))

    def random_label(self, rng: np.random.Generator) -> str:
        """A label with a seeded serial and plausible fields (for the stress set)."""
        alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
        serial = "".join(alphabet[i] for i in rng.integers(0, 32, 16))
        tps = f"621005{2000 + int(rng.integers(1, 30)):04d}{int(rng.integers(1, 12)):03d}"
        race = ("GUB", "BUP")[int(rng.integers(0, 2))]
        return self.label(serial, "SURAT", tps, race, int(rng.integers(100, 620)))
