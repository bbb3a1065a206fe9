"""The production topology as separate hosts on one machine: Linux network namespaces.

    sudo .venv/bin/python -m deploy.netns.topology up      # build, start, print, wait for Ctrl-C

Each host is a network namespace with its own address on a private bridge (iproute2: a veth
pair per host, the bridge in the root namespace as the "outside", where citizens and the test
driver sit). Every host runs the very commands a real deployment runs (the Procfile's lines,
listening on the host's own address, the private ones reached over the bridge):

    lb        HAProxy (Debian's package): :80 to the web hosts, :5005 to the Rasa replicas
    web-N     gunicorn (the web app; WeChat callback, API, the model server Rasa polls)
    rasa-N    Rasa (Redis tracker and lock stores), polls the live model through the lb
    actions   the Rasa action server
    worker-N  RQ worker (queues push, default) and the cron scheduler (once per period)
    trainer   RQ worker for the training queue; it registers the built model at start
    db        PostgreSQL and Redis, private instances bound to the db host's address
    wechat    the WeChat API emulator (the one stand-in), as WeChat's own servers would be

Nothing listens on 127.0.0.1 of the root namespace and no shared instance is used. Hosts share
the code directory (one release, as if installed on each host) but no data: each host has its
own directory for installed models and training runs, and models travel through PostgreSQL.
``Topology`` tears everything down (processes, namespaces, bridge, database files) on exit,
also when building fails half-way.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `python deploy/netns/topology.py` as well as `-m`
    sys.path.insert(0, str(ROOT))

from scripts.stack import procfile, wait_until  # noqa: E402

WEB_PORT, RASA_PORT, ACTION_PORT, WECHAT_PORT, PG_PORT, REDIS_PORT = (
    8000, 5005, 5055, 8080, 5432, 6379)
HAPROXY_STATS_PORT = 8404
# The last octet of each host's address on the bridge (".1" is the outside).
OCTETS = {"lb": 10, "web-1": 11, "web-2": 12, "web-3": 13, "rasa-1": 21, "rasa-2": 22,
          "actions": 31, "worker-1": 41, "worker-2": 42, "trainer": 51, "db": 60, "wechat": 70}


class TopologyError(RuntimeError):
    """The hosts could not be built or a role did not come up (the message says which)."""


def run(*args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(list(args), capture_output=True, text=True, **kwargs)
    if check and result.returncode != 0:
        raise TopologyError(f"`{' '.join(args)}` failed: {result.stderr.strip()[:500]}")
    return result


@dataclass(frozen=True)
class Host:
    name: str
    ns: str
    ip: str


@dataclass
class Role:
    """One process on one host, in its own process group (so it can be killed as a host dies)."""

    name: str  # e.g. "web-1", "cron@worker-2"
    host: Host
    command: str
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen | None = None
    user: str | None = None

    def start(self) -> None:
        handle = self.log.open("ab")
        argv = ["ip", "netns", "exec", self.host.ns]
        if self.user:
            argv += ["runuser", "-u", self.user, "--"]
        self.popen = subprocess.Popen(
            [*argv, "bash", "-c", f"exec {self.command}"], cwd=ROOT, env=self.env,
            stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
        handle.close()

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL, as when the host loses power: no clean-up runs."""
        if self.alive():
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()

    def stop(self) -> None:
        if not self.alive():
            return
        os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Topology:
    """Builds the hosts, starts the roles, and tears it all down (``with Topology(...) as t``)."""

    workdir: Path
    web_hosts: int = 3
    rasa_hosts: int = 2
    worker_hosts: int = 2
    extra_env: dict[str, str] = field(default_factory=dict)
    run_id: str = field(default_factory=lambda: secrets.token_hex(2))
    hosts: dict[str, Host] = field(default_factory=dict)
    roles: dict[str, Role] = field(default_factory=dict)
    rasa_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    # ---- addresses ---------------------------------------------------------------------------

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.workdir.chmod(0o755)  # PostgreSQL runs as `postgres` below it
        self.bridge = f"hm{self.run_id}br"
        self.prefix = self._free_prefix()
        wanted = {"lb", "actions", "trainer", "db", "wechat",
                  *(f"web-{i}" for i in range(1, self.web_hosts + 1)),
                  *(f"rasa-{i}" for i in range(1, self.rasa_hosts + 1)),
                  *(f"worker-{i}" for i in range(1, self.worker_hosts + 1))}
        for name in sorted(wanted, key=OCTETS.__getitem__):
            self.hosts[name] = Host(name, f"hm{self.run_id}-{name}",
                                    f"{self.prefix}.{OCTETS[name]}")
        self.outside = f"{self.prefix}.1"

    def _free_prefix(self) -> str:
        """A 10.218.N.0/24 no interface on this machine uses (parallel runs get their own)."""
        used = run("ip", "-o", "-4", "addr", "show").stdout
        for _ in range(50):
            prefix = f"10.218.{secrets.randbelow(250) + 1}"
            if f" {prefix}." not in used:
                return prefix
        raise TopologyError("no free 10.218.N.0/24 subnet for the bridge")

    def ip(self, name: str) -> str:
        return self.hosts[name].ip

    @property
    def lb_url(self) -> str:
        return f"http://{self.ip('lb')}"

    @property
    def wechat_url(self) -> str:
        return f"http://{self.ip('wechat')}:{WECHAT_PORT}"

    @property
    def database_url(self) -> str:
        return f"postgresql+psycopg://postgres@{self.ip('db')}:{PG_PORT}/huimin"

    @property
    def redis_url(self) -> str:
        return f"redis://{self.ip('db')}:{REDIS_PORT}/0"

    def host_url(self, name: str) -> str:
        port = WEB_PORT if name.startswith("web") else RASA_PORT
        return f"http://{self.ip(name)}:{port}"

    # ---- life cycle --------------------------------------------------------------------------

    def __enter__(self) -> Topology:
        try:
            self.build()
            self.start()
        except BaseException:
            self.teardown()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.teardown()

    def build(self) -> None:
        """The bridge and one namespace per host, each with its own address."""
        if os.geteuid() != 0:
            raise TopologyError("building network namespaces needs root (ip netns add)")
        for tool in ("ip", "haproxy", "redis-server", "runuser"):
            if shutil.which(tool) is None:
                raise TopologyError(f"{tool} not found (Debian: apt-get install -y "
                                    f"{ {'ip': 'iproute2'}.get(tool, tool) })")
        run("ip", "link", "add", self.bridge, "type", "bridge")
        run("ip", "addr", "add", f"{self.outside}/24", "dev", self.bridge)
        run("ip", "link", "set", self.bridge, "up")
        for index, host in enumerate(self.hosts.values()):
            outer, inner = f"hm{self.run_id}v{index}", f"hm{self.run_id}p{index}"
            run("ip", "netns", "add", host.ns)
            run("ip", "link", "add", outer, "type", "veth", "peer", "name", inner)
            run("ip", "link", "set", inner, "netns", host.ns)
            run("ip", "link", "set", outer, "master", self.bridge)
            run("ip", "link", "set", outer, "up")
            ns = ("ip", "netns", "exec", host.ns)
            run(*ns, "ip", "link", "set", "lo", "up")
            run(*ns, "ip", "link", "set", inner, "name", "eth0")
            run(*ns, "ip", "addr", "add", f"{host.ip}/24", "dev", "eth0")
            run(*ns, "ip", "link", "set", "eth0", "up")
            run(*ns, "ip", "route", "add", "default", "via", self.outside)

    def teardown(self) -> None:
        """Every process, then the database files, namespaces and bridge; never raises."""
        for role in reversed(list(self.roles.values())):
            with contextlib.suppress(Exception):
                role.stop()
        pg_data = self.workdir / "db" / "pg"
        if (pg_data / "postmaster.pid").exists():
            with contextlib.suppress(Exception):
                run("runuser", "-u", "postgres", "--", str(pg_bin() / "pg_ctl"), "-D",
                    str(pg_data), "-m", "immediate", "stop", check=False)
        for host in self.hosts.values():
            run("ip", "netns", "del", host.ns, check=False)
        run("ip", "link", "del", self.bridge, check=False)
        shutil.rmtree(self.workdir / "db", ignore_errors=True)

    # ---- roles -------------------------------------------------------------------------------

    def env_for(self, host: str) -> dict[str, str]:
        """The environment of one host: the same for every role but for its own address and
        its own data directories (what deploy/env/<role>.env.example documents)."""
        own = self.workdir / "hosts" / host
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("DATABASE_URL", "REDIS_URL", "WECHAT_", "RASA_", "MODEL_"))}
        env.update(
            BIND_HOST=self.ip(host),
            WEB_PORT=str(WEB_PORT), RASA_PORT=str(RASA_PORT), ACTION_PORT=str(ACTION_PORT),
            EMULATOR_PORT=str(WECHAT_PORT),
            DATABASE_URL=self.database_url, REDIS_URL=self.redis_url,
            RASA_URL=f"http://{self.ip('lb')}:{RASA_PORT}",
            RASA_TOKEN=self.rasa_token,
            ACTION_SERVER_URL=f"http://{self.ip('actions')}:{ACTION_PORT}",
            ACTION_ENDPOINT_URL=f"http://{self.ip('actions')}:{ACTION_PORT}/webhook",
            MODEL_SERVER_URL=f"{self.lb_url}/ops/model-server/model",
            RASA_REDIS_HOST=self.ip("db"), RASA_REDIS_PORT=str(REDIS_PORT), RASA_REDIS_DB="0",
            WECHAT_API_BASE=self.wechat_url, WECHAT_OAUTH_BASE=self.wechat_url,
            PUBLIC_BASE_URL=self.lb_url,
            TRUSTED_PROXIES=self.ip("lb"), TRUSTED_PROXY_COUNT="1",
            INSTALLED_MODELS_DIR=str(own / "models"), OPS_TRAINING_DIR=str(own / "training"),
            TMPDIR=str(own / "tmp"),
            PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2", RASA_TELEMETRY_ENABLED="false",
            SQLALCHEMY_SILENCE_UBER_WARNING="1",
        )
        env.update(self.extra_env)
        (own / "tmp").mkdir(parents=True, exist_ok=True)
        (own / "models").mkdir(parents=True, exist_ok=True)
        return env

    def _role(self, name: str, host: str, command: str, user: str | None = None) -> Role:
        logs = self.workdir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        role = Role(name, self.hosts[host], command, self.env_for(host), logs / f"{name}.log",
                    user=user)
        self.roles[name] = role
        role.start()
        return role

    def start(self) -> None:
        self.start_db()
        self.prepare()
        commands = procfile()
        self._role("wechat", "wechat", commands["emulator"])
        for host in self.web_names:
            self._role(host, host, commands["web"])
        self._role("actions", "actions", commands["actions"])
        self._role("lb", "lb", f"haproxy -db -f {self.write_haproxy_config()}")
        for host in self.rasa_names:
            self._role(host, host, commands["rasa"])
        for host in self.worker_names:
            self._role(host, host, commands["worker"])
            self._role(f"cron@{host}", host, commands["cron"])
        self._role("trainer", "trainer", commands["trainer"])
        self.wait_ready()

    @property
    def web_names(self) -> list[str]:
        return [h for h in self.hosts if h.startswith("web-")]

    @property
    def rasa_names(self) -> list[str]:
        return [h for h in self.hosts if h.startswith("rasa-")]

    @property
    def worker_names(self) -> list[str]:
        return [h for h in self.hosts if h.startswith("worker-")]

    def start_db(self) -> None:
        """PostgreSQL and Redis of this topology, bound to the db host's address."""
        home = self.workdir / "db"
        pg_data = home / "pg"
        home.mkdir(parents=True, exist_ok=True)
        postgres = pwd.getpwnam("postgres")
        os.chown(home, postgres.pw_uid, postgres.pw_gid)
        run("runuser", "-u", "postgres", "--", str(pg_bin() / "initdb"), "-D", str(pg_data),
            "-U", "postgres", "--auth=trust", "-E", "UTF8")
        with (pg_data / "pg_hba.conf").open("a") as hba:
            hba.write(f"host all all {self.prefix}.0/24 trust\n")
        db = self.hosts["db"]
        run("ip", "netns", "exec", db.ns, "runuser", "-u", "postgres", "--",
            str(pg_bin() / "pg_ctl"), "-D", str(pg_data), "-l", str(home / "pg.log"), "-w",
            "-o", f"-p {PG_PORT} -k {pg_data} -c listen_addresses={db.ip} "
                  "-c max_connections=300 -c fsync=off", "start")
        run("ip", "netns", "exec", db.ns, "runuser", "-u", "postgres", "--",
            str(pg_bin() / "createdb"), "-h", db.ip, "-p", str(PG_PORT), "-U", "postgres",
            "huimin")
        redis_dir = home / "redis"
        redis_dir.mkdir()
        self._role("redis", "db", f"redis-server --port {REDIS_PORT} --bind {db.ip} "
                   f"--protected-mode no --save '' --appendonly yes --dir {redis_dir}")
        wait_until(lambda: _redis_answers(self.redis_url), 20, "redis on the db host")

    def prepare(self) -> None:
        """What a deployment runs once, from one host: migrations, seed data, and the model
        `make train` built, registered in the database's model store from the trainer's disk."""
        env = self.env_for("trainer")
        built = sorted((ROOT / "models").glob("*.tar.gz"))
        if not built:
            raise TopologyError("no trained model in models/: run `make train`")
        shutil.copy(built[-1], Path(env["INSTALLED_MODELS_DIR"]) / built[-1].name)
        for args in (["init-db"], ["seed"], ["model", "install-built"]):
            run("ip", "netns", "exec", self.hosts["trainer"].ns, sys.executable, "-m", "flask",
                "--app", "webapp", *args, cwd=ROOT, env=env)

    def write_haproxy_config(self) -> Path:
        webs = "\n".join(f"    server {h} {self.ip(h)}:{WEB_PORT} check inter 1s fall 2 rise 1"
                         for h in self.web_names)
        rasas = "\n".join(f"    server {h} {self.ip(h)}:{RASA_PORT} check inter 1s fall 2 rise 1"
                          for h in self.rasa_names)
        config = f"""global
    maxconn 4096

defaults
    mode http
    timeout connect 2s
    timeout client 70s
    timeout server 70s
    timeout queue 10s
    # A busy host answers its health check slowly: only a refused connection or a silence
    # this long counts as down (a killed host refuses at once: down after 2 checks, ~2 s).
    timeout check 5s
    retries 2
    option redispatch

frontend web
    bind {self.ip('lb')}:80
    option forwardfor
    default_backend web

backend web
    balance roundrobin
    # Only a request no web host received is retried here; one a host died with is WeChat's to
    # deliver again (with a new nonce: the same request again would be refused as a replay),
    # and the WeChat ledger lets the next host take the message over.
    retry-on conn-failure
    option httpchk
    http-check send meth GET uri /healthz
{webs}

frontend rasa
    bind {self.ip('lb')}:{RASA_PORT}
    default_backend rasa

backend rasa
    balance roundrobin
    retry-on conn-failure
    # Ready means a model is loaded; a starting replica gets no conversation yet.
    option httpchk
    http-check send meth GET uri /status?token={self.rasa_token}
    http-check expect rstring model_id.{{3,4}}[0-9a-f]
{rasas}

frontend stats
    bind {self.ip('lb')}:{HAPROXY_STATS_PORT}
    stats enable
    stats uri /stats
"""
        path = self.workdir / "haproxy.cfg"
        path.write_text(config)
        run("haproxy", "-c", "-f", str(path))
        return path

    # ---- readiness -------------------------------------------------------------------------

    def wait_ready(self, timeout: float = 900) -> None:
        """Every role alive, every web host ready, every Rasa replica holding a model."""
        def ready() -> bool:
            for role in self.roles.values():
                if not role.alive():
                    raise TopologyError(f"{role.name} exited:\n{role.tail()}")
            return (all(_http_ok(f"{self.host_url(h)}/healthz") for h in self.web_names)
                    and all(self.rasa_model(h) for h in self.rasa_names)
                    and _http_ok(f"{self.wechat_url}/_emulator/health")
                    and _http_ok(f"{self.lb_url}/readyz"))

        try:
            wait_until(ready, timeout, "the topology")
        except TimeoutError as exc:
            tails = "\n".join(f"--- {r.name}\n{r.tail(8)}" for r in self.roles.values())
            raise TopologyError(f"{exc}\n{tails}") from exc

    def rasa_model(self, host: str) -> str:
        """The model id a Rasa replica runs ('' if none or unreachable)."""
        try:
            resp = requests.get(f"{self.host_url(host)}/status",
                                params={"token": self.rasa_token}, timeout=3)
            return resp.json().get("model_id") or "" if resp.ok else ""
        except (requests.RequestException, ValueError):
            return ""

    def kill(self, name: str) -> None:
        self.roles[name].kill()

    def in_host(self, host: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return run("ip", "netns", "exec", self.hosts[host].ns, *args, **kwargs)


def pg_bin() -> Path:
    """The PostgreSQL server binaries (Debian keeps them out of PATH, per major version)."""
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    found = shutil.which("initdb")
    if found is None:
        raise TopologyError("initdb not found: apt-get install -y postgresql")
    return Path(found).parent


def _redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def _http_ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=3).status_code == 200
    except requests.RequestException:
        return False


@contextlib.contextmanager
def topology(**kwargs) -> Iterator[Topology]:
    workdir = Path(tempfile.mkdtemp(prefix="huimin-netns-"))
    with Topology(workdir, **kwargs) as built:
        yield built


def main(argv: list[str]) -> int:
    if argv[:1] != ["up"]:
        print(__doc__)
        return 2
    with topology() as t:
        print(f"up: lb {t.lb_url}, wechat {t.wechat_url}, db {t.ip('db')}; logs in "
              f"{t.workdir / 'logs'}. Ctrl-C tears it down.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
