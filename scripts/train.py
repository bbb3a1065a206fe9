"""Train the Rasa model only when its inputs changed.

The model is cached by a fingerprint of everything that goes into it (config, domain, stories,
NLU data, the catalogue-generated NLU files and Jieba dictionary, the pinned Rasa environment),
in $HUIMIN_CACHE (default ~/.cache/huimin), so a fresh clone with unchanged data reuses it.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRAINING = ROOT / "build" / "training"
MODELS = ROOT / "models"
INPUTS = [
    "bot/config.yml", "bot/domain.yml", "bot/data", "nlu_data", "bot/requirements.txt",
    "build/training",
]


def cache_dir() -> Path:
    return Path(os.environ.get("HUIMIN_CACHE", Path.home() / ".cache" / "huimin")) / "models"


def build_generated() -> None:
    """NLU synonyms, lookup tables and the Jieba dictionary come from the policy catalogue."""
    if TRAINING.exists():
        shutil.rmtree(TRAINING)
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_nlu.py"), "--out", str(TRAINING)],
        check=True, cwd=ROOT,
    )


def fingerprint() -> str:
    digest = hashlib.sha256()
    for rel in INPUTS:
        path = ROOT / rel
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            digest.update(str(f.relative_to(ROOT)).encode())
            digest.update(f.read_bytes())
    return digest.hexdigest()[:16]


def install(model: Path) -> Path:
    """Make `model` the only one in models/, which is what `rasa run --model models` loads."""
    MODELS.mkdir(exist_ok=True)
    target = MODELS / model.name
    for old in MODELS.glob("*.tar.gz"):
        if old.name != model.name:
            old.unlink()
    if not target.exists():
        shutil.copy2(model, target)
    return target


def train(fp: str) -> Path:
    out = ROOT / "build" / "model-out"
    shutil.rmtree(out, ignore_errors=True)
    rasa = ROOT / ".venv-rasa" / "bin" / "rasa"
    cmd = [
        str(rasa), "train", "--config", "bot/config.yml", "--domain", "bot/domain.yml",
        "--data", "bot/data", "nlu_data", str(TRAINING.relative_to(ROOT)),
        "--out", str(out), "--fixed-model-name", f"huimin-{fp}",
    ]
    print(f"==> training the assistant (model {fp}); about a minute on 2 cores", flush=True)
    started = time.monotonic()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "RASA_TELEMETRY_ENABLED": "false"}
    subprocess.run(cmd, check=True, cwd=ROOT, env=env)
    print(f"==> trained in {time.monotonic() - started:.0f} s", flush=True)
    return out / f"huimin-{fp}.tar.gz"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--force", action="store_true", help="train even if a cached model fits")
    args = parser.parse_args()
    build_generated()
    fp = fingerprint()
    cached = cache_dir() / f"huimin-{fp}.tar.gz"
    if cached.exists() and not args.force:
        target = install(cached)
        print(f"==> model up to date ({target.relative_to(ROOT)}), training skipped", flush=True)
        return 0
    model = train(fp)
    cached.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(model, cached)
    target = install(cached)
    print(f"==> model ready: {target.relative_to(ROOT)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
