"""`make run`'s process supervision: supervisord (the `supervisor` package) runs each Procfile
process and restarts one that exits, with backoff, instead of stopping the whole stack as
honcho does. The same policy is what production's per-role supervisor (systemd) applies.

Policy: a process that exits is restarted at once if it had run for STARTSECS, otherwise after
a growing delay (supervisord waits 1 s, 2 s, 3 s ... between attempts) without ever giving up;
each unexpected exit is reported on the console by supervisord. Each process's own output
(library warnings, access logs) goes to var/log/<name>.log, not to the console.
"""

from __future__ import annotations

import getpass
import os
import secrets
from pathlib import Path

STARTSECS = 5  # a process that lives this long counts as started (its next failure: no delay)
START_RETRIES = 1_000_000  # never give up on a process: a dependency may take long to return


LOG_BYTES = "20MB"  # per process log file, then rotated
LOG_BACKUPS = 3


def _program(name: str, command: str, root: Path, *, restart: bool,
             log_dir: Path | None) -> str:
    if "'" in command:
        raise ValueError(f"Procfile command for {name} must not contain single quotes")
    command = command.replace("%", "%%")  # supervisord expands %(...)s in its values
    lines = [
        f"[program:{name}]",
        f"command=bash -c 'exec {command}'",  # bash expands $VARS from the environment
        f"directory={root}",
        *([f"stdout_logfile={log_dir / f'{name}.log'}",
           f"stdout_logfile_maxbytes={LOG_BYTES}", f"stdout_logfile_backups={LOG_BACKUPS}"]
          if log_dir is not None else
          ["stdout_logfile=/dev/stdout", "stdout_logfile_maxbytes=0"]),
        "redirect_stderr=true",
        "stopasgroup=true",
        "killasgroup=true",
        "stopwaitsecs=15",
    ]
    if restart:
        lines += ["autorestart=true", f"startsecs={STARTSECS}", f"startretries={START_RETRIES}"]
    else:  # a one-shot (the readiness announcer): run once, never restarted
        lines += ["autorestart=false", "startsecs=0", "exitcodes=0,1"]
    return "\n".join(lines)


def supervisord_conf(programs: dict[str, str], once: dict[str, str], root: Path,
                     var: Path, log_dir: Path) -> str:
    """The supervisord configuration for `programs` (kept running, output in `log_dir`) and
    `once` (run once, output on the console). supervisord itself reports only warnings (an
    unexpected exit, giving up) on the console.

    Nothing else reaches the console: as root, the user is named (supervisord otherwise
    prints a critical "running as root" line at every start), and the control socket has a
    per-run password (otherwise "running without any HTTP authentication checking"), which
    `supervisorctl -c <this file>` reads from its own section."""
    password = secrets.token_urlsafe(16)
    as_root = f"user={getpass.getuser()}\n" if os.getuid() == 0 else ""
    head = f"""[supervisord]
nodaemon=true
logfile=/dev/stdout
logfile_maxbytes=0
loglevel=warn
pidfile={var / 'supervisord.pid'}
{as_root}
[unix_http_server]
file={var / 'supervisor.sock'}
chmod=0700
username=huimin
password={password}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{var / 'supervisor.sock'}
username=huimin
password={password}
"""
    blocks = [_program(name, cmd, root, restart=True, log_dir=log_dir)
              for name, cmd in programs.items()]
    blocks += [_program(name, cmd, root, restart=False, log_dir=None)
               for name, cmd in once.items()]
    return head + "\n" + "\n\n".join(blocks) + "\n"
