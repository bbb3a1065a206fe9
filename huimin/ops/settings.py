"""Ops console settings, from environment variables (documented in .env.example)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from huimin.platform.config import ROOT


def _path(name: str, default: Path) -> Path:
    value = os.environ.get(name, "")
    return Path(value) if value else default


@dataclass(frozen=True)
class OpsSettings:
    # Inbox: user messages whose top intent confidence is below this are "low confidence".
    low_confidence: float = field(
        default_factory=lambda: float(os.environ.get("OPS_LOW_CONFIDENCE", "0.6"))
    )
    # Gate rules (tolerance, required intents and their floors): a data file ops can edit.
    gate_file: Path = field(
        default_factory=lambda: _path("OPS_GATE_FILE", ROOT / "huimin" / "ops" / "gate.yml")
    )
    # Trained models, content-addressed; web (model server) and worker must both reach it.
    model_store: Path = field(
        default_factory=lambda: _path("MODEL_STORE_DIR", ROOT / "var" / "model-store")
    )
    # One fresh directory per training run (exported data, reports, log).
    training_dir: Path = field(
        default_factory=lambda: _path("OPS_TRAINING_DIR", ROOT / "var" / "training")
    )
    rasa_bin: Path = field(
        default_factory=lambda: _path("RASA_BIN", ROOT / ".venv-rasa" / "bin" / "rasa")
    )
    heldout_file: Path = field(
        default_factory=lambda: _path("OPS_HELDOUT_FILE", ROOT / "tests" / "nlu" / "heldout.yml")
    )
    # Where `make train` installs its model: registered as the first live model.
    installed_models: Path = field(
        default_factory=lambda: _path("INSTALLED_MODELS_DIR", ROOT / "models")
    )
    # Rasa's component cache, shared with `make train`: a retraining reuses every component
    # whose inputs did not change (annotations only change the NLU; the dialogue policies are
    # taken from the cache).
    rasa_cache: Path = field(
        default_factory=lambda: _path("RASA_CACHE_DIRECTORY", ROOT / ".rasa" / "cache")
    )
    training_timeout_seconds: int = field(
        default_factory=lambda: int(os.environ.get("OPS_TRAINING_TIMEOUT", "3600"))
    )


def load_ops_settings() -> OpsSettings:
    return OpsSettings()
