"""Train the Rasa model only when its inputs changed.

The model is cached by a fingerprint of everything that goes into it (config, domain, stories,
NLU data, the catalogue-generated NLU files and Jieba dictionary, the pinned Rasa environment),
in $HUIMIN_CACHE (default ~/.cache/huimin), so a fresh clone with unchanged data reuses it.

Rasa's own output (thousands of library warnings and progress bars) goes to var/log/train.log;
the console gets one line per stage with its elapsed time, and the training's progress (the
epochs of each trained component) every 10 %, so a newcomer can tell progress from failure.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRAINING = ROOT / "build" / "training"
MODELS = ROOT / "models"
LOG = ROOT / "var" / "log" / "train.log"
EPOCHS = re.compile(r"Epochs:\s+(\d+)%\|.*?\|\s*(\d+)/(\d+)")
STAGES = {  # a line of Rasa's log that starts a stage worth naming -> its name
    "DIETClassifier": "understanding (DIET)",
}
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
    LOG.parent.mkdir(parents=True, exist_ok=True)
    with open(LOG, "w", encoding="utf-8") as log:  # a fresh log for this `make train`
        subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "build_nlu.py"), "--out", str(TRAINING)],
            check=True, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
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


def _chunks(stream) -> Iterator[str]:
    """Rasa's output split on newlines and on the carriage returns of progress bars."""
    pending = b""
    while block := stream.read1(4096):
        pending += block
        *lines, pending = re.split(rb"[\r\n]", pending)
        yield from (line.decode(errors="replace") for line in lines if line)
    if pending:
        yield pending.decode(errors="replace")


class Progress:
    """One console line per 10 % of each trained component's epochs, with elapsed time."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.component = "model"
        self.shown = -1

    def feed(self, line: str) -> None:
        for marker, name in STAGES.items():
            if f"Starting to train component '{marker}'" in line:
                self.component, self.shown = name, -1
        match = EPOCHS.search(line)
        if match is None:
            return
        done, total = int(match.group(2)), int(match.group(3))
        tenth = done * 10 // max(total, 1)
        if done and tenth > self.shown:
            self.shown = tenth
            print(f"    {self.component}: epoch {done}/{total} ({tenth * 10} %), "
                  f"{_clock(time.monotonic() - self.started)}", flush=True)


def _clock(seconds: float) -> str:
    return f"{int(seconds) // 60}m{int(seconds) % 60:02d}s"


def train(fp: str) -> Path:
    out = ROOT / "build" / "model-out"
    shutil.rmtree(out, ignore_errors=True)
    rasa = ROOT / ".venv-rasa" / "bin" / "rasa"
    cmd = [
        str(rasa), "train", "--config", "bot/config.yml", "--domain", "bot/domain.yml",
        "--data", "bot/data", "nlu_data", str(TRAINING.relative_to(ROOT)),
        "--out", str(out), "--fixed-model-name", f"huimin-{fp}",
    ]
    print(f"==> training the assistant (model {fp}); several minutes on 2 cores; "
          f"full log: {LOG.relative_to(ROOT)}", flush=True)
    started = time.monotonic()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "RASA_TELEMETRY_ENABLED": "false",
           "PYTHONUNBUFFERED": "1"}
    progress = Progress(started)
    with open(LOG, "a", encoding="utf-8") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        assert proc.stdout is not None
        for line in _chunks(proc.stdout):
            log.write(line + "\n")
            progress.feed(line)
        code = proc.wait()
    if code != 0:
        tail = LOG.read_text(encoding="utf-8", errors="replace").splitlines()[-25:]
        print("\n".join(["!!> training failed; the end of its log:", *tail,
                         f"!!> full log: {LOG}"]), flush=True)
        raise SystemExit(code)
    print(f"==> trained in {_clock(time.monotonic() - started)}", flush=True)
    return out / f"huimin-{fp}.tar.gz"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--force", action="store_true", help="train even if a cached model fits")
    args = parser.parse_args()
    started = time.monotonic()
    build_generated()
    fp = fingerprint()
    cached = cache_dir() / f"huimin-{fp}.tar.gz"
    if cached.exists() and not args.force:
        target = install(cached)
        print(f"==> model up to date ({target.relative_to(ROOT)}), training skipped "
              f"({time.monotonic() - started:.1f} s)", flush=True)
        return 0
    model = train(fp)
    cached.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(model, cached)
    target = install(cached)
    print(f"==> model ready: {target.relative_to(ROOT)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
