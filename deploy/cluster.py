"""CARE Field's production topology on one machine (`make cluster`).

    N socket processes (CARE_PROCESS_ROLE=socket: /ws/feed/ only)
    M API processes    (CARE_PROCESS_ROLE=api: the API and the pages)
    HAProxy in front   (deploy/haproxy.cfg.in): /ws/ to the sockets, the rest to the API,
                       health checks on /healthz, draining through its runtime API
    the always-on commands (manage.py watch_acknowledgements, manage.py write_acks: the socket
                       processes hand their acks to a Redis stream it stores)

PostgreSQL and Redis come from DATABASE_URL and REDIS_URL (Redis is required: with more than one
process, the channel layer must reach them all). This script binds every listening socket itself
and hands each process its socket as an inherited file descriptor, so no port can be taken by
someone else between choosing it and using it; `--port 0` picks a free front port and prints it.

A process that dies is started again on the same socket (the balancer's health check takes it out
meanwhile; its tablets reconnect to the others and replay from their cursors). SIGHUP replaces the
socket processes one at a time, each drained first; Ctrl-C (SIGINT) or SIGTERM drains and stops
everything. `--state FILE` keeps a JSON description (ports, pids) up to date for tools and tests.

Every process it starts dies with it, however it ends: each asks the kernel for SIGKILL when this
script dies (a parent-death signal), and each runs in a process group of its own that is killed
whole on the way out. A `kill -9` of this script leaves nothing holding the port.

On a loopback address it is the local topology (production settings on plain HTTP): an unset
SECRET_KEY is made once and kept in var/cluster-secret-key, and SECURE_SSL_REDIRECT defaults to
false, since nothing in front of it speaks TLS (docs/deployment.md).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import ipaddress
import json
import os
import resource
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = Path(__file__).with_name("haproxy.cfg.in")
SERVE = Path(__file__).with_name("serve.py")  # Daphne with the body limit inside it
# The balancer's address as the processes see it: the only peer whose X-Forwarded-* they believe.
PROXY_ADDRESS = "127.0.0.1"
# The request body limit, as the app's DATA_UPLOAD_MAX_MEMORY_SIZE (server/settings.py).
MAX_BODY_BYTES = int(os.environ.get("CARE_MAX_BODY_BYTES", "2621440"))
RESTART_DELAY_SECONDS = 1.0
LOCAL_SECRET_KEY = ROOT / "var" / "cluster-secret-key"
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with(parent_pid: int) -> callable:
    """A preexec function for a child: SIGKILL it when `parent_pid` dies. The kernel sends the
    signal when the thread that forked the child ends; should the parent be gone already (it died
    between the fork and this call) the child ends itself."""

    def preexec() -> None:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:
            os._exit(1)

    return preexec


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def local_settings(host: str, environ: dict[str, str]) -> dict[str, str]:
    """What the processes need beyond the environment to run on this machine in production mode.

    On loopback there is no TLS in front, so no redirect to HTTPS, and a newcomer need not invent
    a key: one is made on first use and kept (sessions then survive a restart). Elsewhere the
    environment must say both, as in any production deployment."""
    if environ.get("DEBUG", "").lower() in ("1", "true", "yes", "on") or not is_loopback(host):
        return {}
    local = {"SECURE_SSL_REDIRECT": environ.get("SECURE_SSL_REDIRECT", "false")}
    if not environ.get("SECRET_KEY"):
        if not LOCAL_SECRET_KEY.exists():
            LOCAL_SECRET_KEY.parent.mkdir(parents=True, exist_ok=True)
            LOCAL_SECRET_KEY.touch(mode=0o600)
            LOCAL_SECRET_KEY.write_text(secrets.token_urlsafe(50))
        local["SECRET_KEY"] = LOCAL_SECRET_KEY.read_text().strip()
    return local


@dataclass
class Member:
    """One supervised process and the listening socket it inherits (none for a worker)."""

    name: str
    role: str  # socket, api or worker
    command: list[str]
    listener: socket.socket | None = None
    process: subprocess.Popen | None = None
    restarts: int = 0
    died_at: float | None = None
    log: Path | None = field(default=None, repr=False)

    @property
    def port(self) -> int | None:
        return self.listener.getsockname()[1] if self.listener else None


def listening_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def balancer_maxconn() -> int:
    """Connections HAProxy may hold: two descriptors each (device side, process side), within
    this machine's open-file limit."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(256, min(50_000, (soft - 200) // 2))


def server_lines(members: list[Member]) -> str:
    return "\n".join(f"    server {m.name} 127.0.0.1:{m.port} check" for m in members)


def server_command(server: str, fd: int, app: str) -> list[str]:
    """The ASGI server for one process, serving the socket on `fd`."""
    if server == "uvicorn":
        return [
            sys.executable, "-m", "uvicorn", "--fd", str(fd), "--loop", "uvloop",
            "--http", "httptools", "--ws", "websockets", "--lifespan", "off",
            "--no-access-log", "--proxy-headers", "--forwarded-allow-ips", PROXY_ADDRESS, app,
        ]  # fmt: skip
    # No --proxy-headers: Daphne would believe any peer's X-Forwarded-For. The app believes only
    # the balancer's (server/edge.py, CARE_TRUSTED_PROXIES).
    return [sys.executable, str(SERVE), "--fd", str(fd), app]


class Cluster:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work = Path(args.work or tempfile.mkdtemp(prefix="care-cluster-"))
        self.work.mkdir(parents=True, exist_ok=True)
        self.runtime_socket = self.work / "haproxy.sock"
        self.front = listening_socket(args.host, args.port)
        self.members: list[Member] = []
        self.stopping = False
        self.rolling = False
        self.settings = local_settings(args.host, dict(os.environ))
        for i in range(1, args.sockets + 1):
            self._add_server(f"ws{i}", "socket", args.socket_server)
        for i in range(1, args.api + 1):
            self._add_server(f"api{i}", "api", "daphne")
        for command in args.always_on:
            self.members.append(
                Member(command, "worker", [sys.executable, "manage.py", *command.split()])
            )

    def _add_server(self, name: str, role: str, server: str) -> None:
        sock = listening_socket("127.0.0.1", 0)
        command = server_command(server, sock.fileno(), self.args.app)
        self.members.append(Member(name, role, command, sock))

    # ---- processes -----------------------------------------------------------------------------

    def env_for(self, member: Member) -> dict[str, str]:
        role = member.role if member.role != "worker" else "all"
        env = {**os.environ, **self.settings, "CARE_PROCESS_ROLE": role}
        env.setdefault("CARE_TRUSTED_PROXIES", PROXY_ADDRESS)
        # Every process counts the rate limits in the same place (server/throttles.py).
        if env.get("REDIS_URL"):
            env.setdefault("CARE_THROTTLE_CACHE_URL", env["REDIS_URL"])
        # Each process keeps its own PostgreSQL pool: keep the sum under max_connections.
        pools = {"socket": self.args.socket_pool, "api": self.args.api_pool}
        pool = pools.get(member.role, 2)
        env.setdefault("DATABASE_POOL_MAX", str(pool))
        env.setdefault("DATABASE_POOL_MIN", "1")
        return env

    def spawn(self, member: Member) -> None:
        member.log = self.work / f"{member.name.replace(' ', '_')}.log"
        fds = [member.listener.fileno()] if member.listener else []
        member.process = subprocess.Popen(
            member.command,
            cwd=ROOT,
            env=self.env_for(member),
            pass_fds=fds,
            stdout=member.log.open("a"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches this script only; it stops them in order
            preexec_fn=die_with(os.getpid()),
        )
        member.died_at = None
        self.write_state()

    def start_balancer(self) -> None:
        sockets = [m for m in self.members if m.role == "socket"]
        apis = [m for m in self.members if m.role == "api"]
        config = string.Template(TEMPLATE.read_text()).substitute(
            runtime_socket=self.runtime_socket,
            maxconn=balancer_maxconn(),
            front_bind=f"fd@{self.front.fileno()}",
            socket_servers=server_lines(sockets),
            api_servers=server_lines(apis),
            max_body=MAX_BODY_BYTES,
        )
        path = self.work / "haproxy.cfg"
        path.write_text(config)
        haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
        subprocess.run(
            [haproxy, "-c", "-q", "-f", str(path)], check=True, pass_fds=[self.front.fileno()]
        )
        self.balancer = Member("haproxy", "balancer", [haproxy, "-db", "-f", str(path)], self.front)
        self.spawn(self.balancer)

    def start(self) -> None:
        for member in self.members:
            self.spawn(member)
        # The balancer after the processes answer: its first health check that times out on a
        # process still starting marks it down (a server starts one failure from down), and
        # requests in the seconds until the next check would find no server at all.
        for member in self.members:
            if member.listener:
                self.wait_healthy(member.port)
        self.start_balancer()
        self.wait_healthy(self.front.getsockname()[1])
        self.write_state()

    def wait_healthy(self, port: int, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if hasattr(self, "balancer"):
                self.check_balancer()
            time.sleep(0.2)
        raise SystemExit(f"nothing healthy on port {port} after {seconds:g} s; logs in {self.work}")

    def check_balancer(self) -> None:
        if self.balancer.process.poll() is not None:
            raise SystemExit(f"haproxy exited; see {self.balancer.log}")

    # ---- supervision ---------------------------------------------------------------------------

    def supervise(self) -> None:
        while not self.stopping:
            self.check_balancer()
            for member in self.members:
                if member.process.poll() is None or self.stopping:
                    continue
                if member.died_at is None:
                    member.died_at = time.monotonic()
                    print(f"{member.name} exited ({member.process.returncode}); restarting",
                          flush=True)  # fmt: skip
                elif time.monotonic() - member.died_at >= RESTART_DELAY_SECONDS:
                    member.restarts += 1
                    self.spawn(member)
            if self.rolling:
                self.rolling = False
                self.roll_socket_processes()
            time.sleep(0.2)

    def runtime(self, command: str) -> str:
        """One command to HAProxy's runtime API."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(str(self.runtime_socket))
            s.sendall(command.encode() + b"\n")
            return s.recv(65536).decode()

    def drain(self, member: Member) -> None:
        backend = "sockets" if member.role == "socket" else "api"
        # The balancer may be gone already (OSError): then there is nothing to drain from.
        with contextlib.suppress(OSError):
            self.runtime(f"set server {backend}/{member.name} state drain")

    def roll_socket_processes(self) -> None:
        """Replace each socket process in turn: drain it, stop it, start a new one, put it back."""
        for member in [m for m in self.members if m.role == "socket"]:
            print(f"replacing {member.name}", flush=True)
            self.drain(member)
            self.terminate([member])
            self.spawn(member)
            self.wait_healthy(member.port)
            self.runtime(f"set server sockets/{member.name} state ready")

    def terminate(self, members: list[Member], seconds: float = 15) -> None:
        for member in members:
            if member.process and member.process.poll() is None:
                member.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + seconds
        for member in members:
            if member.process is None:
                continue
            try:
                member.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                member.process.kill()
                member.process.wait()
            # Whatever the process started in its group goes with it.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(member.process.pid, signal.SIGKILL)

    def stop(self) -> None:
        """Drain the balancer's servers, stop the app processes, then the workers and HAProxy."""
        self.stopping = True
        servers = [m for m in self.members if m.listener]
        for member in servers:
            self.drain(member)
        self.terminate(servers)
        self.terminate([m for m in self.members if m.role == "worker"])
        if hasattr(self, "balancer"):
            self.terminate([self.balancer], seconds=5)
        if self.args.state:
            Path(self.args.state).unlink(missing_ok=True)

    def migrate(self) -> None:
        """`manage.py migrate` with the settings the processes get."""
        env = {**os.environ, **self.settings}
        env.setdefault("CARE_TRUSTED_PROXIES", PROXY_ADDRESS)  # as the processes (start-up check)
        subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v0"],
                       cwd=ROOT, env=env, check=True)  # fmt: skip

    def write_state(self) -> None:
        if not self.args.state:
            return
        state = {
            "url": f"http://{self.args.host}:{self.front.getsockname()[1]}",
            "work": str(self.work),
            "members": {
                m.name: {
                    "role": m.role,
                    "port": m.port,
                    "pid": m.process.pid if m.process else None,
                    "restarts": m.restarts,
                }
                for m in [*self.members, *([self.balancer] if hasattr(self, "balancer") else [])]
            },
        }
        temporary = Path(self.args.state).with_suffix(".tmp")
        temporary.write_text(json.dumps(state, indent=1))
        temporary.replace(self.args.state)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sockets", type=int, default=2, help="socket processes (default 2)")
    p.add_argument("--api", type=int, default=2, help="API/page processes (default 2)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000, help="the balancer's port; 0 picks one")
    p.add_argument(
        "--socket-server",
        choices=["daphne", "uvicorn"],
        default=os.environ.get("CARE_SOCKET_SERVER", "daphne"),
        help="ASGI server of the socket processes (docs/deployment.md; default daphne)",
    )
    p.add_argument("--app", default="server.asgi:application", help="the ASGI application")
    p.add_argument("--socket-pool", type=int, default=8, help="DB pool size per socket process")
    p.add_argument("--api-pool", type=int, default=10, help="DB pool size per API process")
    p.add_argument(
        "--always-on",
        action="append",
        default=None,
        help="manage.py command to keep running (repeatable; default watch_acknowledgements "
        "and write_acks)",
    )
    p.add_argument("--state", help="write ports and pids here (JSON), kept up to date")
    p.add_argument("--work", help="folder for logs and the rendered haproxy.cfg")
    p.add_argument("--migrate", action="store_true", help="run manage.py migrate first")
    args = p.parse_args(argv)
    if args.always_on is None:
        args.always_on = ["watch_acknowledgements", "write_acks"]
    return args


def main() -> None:
    args = parse_args()
    if not os.environ.get("REDIS_URL"):
        raise SystemExit("REDIS_URL is required: the processes share the Redis channel layer.")
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("DATABASE_URL must be PostgreSQL: several processes write at once.")
    cluster = Cluster(args)

    def stop_signal(signum, frame) -> None:
        cluster.stopping = True

    def roll_signal(signum, frame) -> None:
        cluster.rolling = True

    signal.signal(signal.SIGINT, stop_signal)
    signal.signal(signal.SIGTERM, stop_signal)
    signal.signal(signal.SIGHUP, roll_signal)
    try:
        if args.migrate:
            cluster.migrate()
        cluster.start()
        url = f"http://{args.host}:{cluster.front.getsockname()[1]}"
        print(f"CARE Field cluster on {url}/ ({args.sockets} socket, {args.api} API processes; "
              f"logs in {cluster.work}). Ctrl-C stops it.", flush=True)  # fmt: skip
        cluster.supervise()
    finally:
        print("stopping: draining and stopping every process", flush=True)
        cluster.stop()


if __name__ == "__main__":
    main()
