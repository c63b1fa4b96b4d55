"""Tepat scanner: QR decoding, frame sources and the courier client (``tepat-scan``).

A library without Flask. It returns raw label text; labels are parsed and verified by
``labels``, the package that writes them.
"""

from __future__ import annotations

from scanner.client import CourierSession, Debouncer, ScanOptions, ScanOutcome
from scanner.config import ClientConfig, ClientHome, default_home
from scanner.decode import Detection, Pipeline, ScanResult, decode, default_pipeline
from scanner.errors import (
    AuthError,
    ConfigError,
    InvalidImage,
    KeyringError,
    LogProofError,
    PlanSliceError,
    ProtocolError,
    ScanError,
    ServerUnavailable,
    SourceError,
    SyncError,
)
from scanner.outbox import NewScan, Outbox, Problem, ScanEvent, Settlement
from scanner.plan import (
    ACTIONS,
    CONDITIONS,
    Allowed,
    Finding,
    PlanSlice,
    ScannedItem,
    Severity,
    check_scan,
)
from scanner.sources import (
    CameraSource,
    Frame,
    FrameSource,
    ImageSource,
    LineSource,
    VideoSource,
    open_source,
)
from scanner.sync import Backoff, ScanApi, Syncer, SyncReport
from scanner.verify import KeyringVerifier, LabelVerifier, Verdict

__all__ = [
    "ACTIONS",
    "Allowed",
    "AuthError",
    "Backoff",
    "CONDITIONS",
    "CameraSource",
    "ClientConfig",
    "ClientHome",
    "ConfigError",
    "CourierSession",
    "Debouncer",
    "Detection",
    "Finding",
    "Frame",
    "FrameSource",
    "ImageSource",
    "InvalidImage",
    "KeyringError",
    "KeyringVerifier",
    "LabelVerifier",
    "LineSource",
    "LogProofError",
    "NewScan",
    "Outbox",
    "Pipeline",
    "PlanSlice",
    "PlanSliceError",
    "Problem",
    "ProtocolError",
    "ScanApi",
    "ScanError",
    "ScanEvent",
    "ScanOptions",
    "ScanOutcome",
    "ScanResult",
    "ScannedItem",
    "ServerUnavailable",
    "Settlement",
    "Severity",
    "SourceError",
    "SyncError",
    "SyncReport",
    "Syncer",
    "Verdict",
    "VideoSource",
    "check_scan",
    "decode",
    "default_home",
    "default_pipeline",
    "open_source",
]
