"""Start and stop the local Milvus servers: the standalone server shipped in the PyPI package
``milvus`` (v2.3.5-lite, auth on) and the Milvus Lite gRPC server of ``milvus-lite`` (3.2.2).

The package (Milvus v2.3.5-lite, embedded etcd, local storage) is a real Milvus server, but
its components listen on every interface and cannot be told otherwise. So this module
always starts it with authorization enabled and, on the first start of a data folder,
replaces the well-known default ``root`` password with a generated one, stored with 0600
permissions next to the data. Everything that talks to the local server reads that file
(or the Airflow connection built from it).

Why not ``milvus-server`` (the package's own CLI)? It pins every port explicitly, so a second
server (the test session's) cannot start beside a developer's; it stays in the foreground
and does not notice when the binary dies; and it stops the binary with a one-second
terminate-then-kill. We reuse the package's config renderer and binary unpacker and run the
binary ourselves as a daemon with a pid file and a graceful stop.

Usage::

    python -m milvus_toolkit_dev.local_milvus up      # idempotent; waits until it answers
    python -m milvus_toolkit_dev.local_milvus down    # idempotent; graceful, then forced
    python -m milvus_toolkit_dev.local_milvus status
    python -m milvus_toolkit_dev.local_milvus conn-uri   # Airflow connection URI (has the secret)

The second server, Milvus Lite (``milvus-lite server``; Milvus 2.5+ features such as BM25
functions, hybrid search and partition keys, which 2.3.5 lacks) is managed the same way with
``--lite``: default port 19540, data in ``.local/milvus-lite``. It has no authentication at
all, so it is only ever bound to 127.0.0.1 (its own default is every interface)::

    python -m milvus_toolkit_dev.local_milvus up --lite       # idempotent, under a second
    python -m milvus_toolkit_dev.local_milvus down --lite     # SIGTERM -> its graceful stop
    python -m milvus_toolkit_dev.local_milvus status --lite
    python -m milvus_toolkit_dev.local_milvus conn-uri --lite # no secret: there is none
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar
from urllib.parse import quote

from milvus_toolkit_dev import processes

DEFAULT_PORT = 19530
DEFAULT_LITE_PORT = 19540  # clear of 19530 and the 2.3.5 server's internal default ports
DEFAULT_ROOT_PASSWORD = "Milvus"  # Milvus's documented factory default; replaced on first start
# A developer tool: it lives in the repository (dev/milvus_toolkit_dev/) and keeps its state in
# the repository's .local/. The runtime package milvus_toolkit never derives paths like this.
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_HOME = REPO_ROOT / ".local"


class LocalMilvusError(RuntimeError):
    """The local Milvus server could not be started, reached or stopped."""


@dataclass(frozen=True)
class LocalServer:
    """What every local server shares: its data folder, its client port, a pid file and a
    state file in ``home``, the stale-state recovery, the health wait and the stop.

    Subclasses say how to start the process (``_start_process``), how to tell it is healthy
    (``is_healthy``) and what to do once it answers (``_after_start``).
    """

    home: Path = DEFAULT_HOME
    port: int = DEFAULT_PORT
    name: str = "milvus"
    label: ClassVar[str] = "local Milvus"
    port_env: ClassVar[str] = "MILVUS_PORT"

    @property
    def data_dir(self) -> Path:
        return self.home / self.name

    @property
    def pid_file(self) -> Path:
        return self.home / f"{self.name}.pid"

    @property
    def state_file(self) -> Path:
        """What was chosen at start (ports)."""
        return self.home / f"{self.name}.state.json"

    @property
    def logs(self) -> Path:
        return self.data_dir / "logs"

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ---- process state -----------------------------------------------------------------

    def pid(self) -> int | None:
        return processes.read_pid(self.pid_file)

    def is_healthy(self) -> bool:
        raise NotImplementedError

    def status(self) -> str:
        pid = self.pid()
        if pid is None:
            return f"stopped ({self.uri}; data in {self.data_dir})"
        return f"{'running' if self.is_healthy() else 'unhealthy'} (pid {pid}, {self.uri}, data in {self.data_dir})"

    # ---- start / stop --------------------------------------------------------------------

    def up(self, timeout: float = 180.0, attempts: int = 3) -> None:
        """Start the server unless it already runs; wait until it answers."""
        if self.is_healthy():
            self._after_start()
            return
        self._clean_stale()
        last_error: Exception | None = None
        for attempt in range(1, attempts + 1):
            try:
                self._start_process()
                self._wait_healthy(timeout)
                self._after_start()
                return
            except LocalMilvusError as exc:
                # An immediate restart on the same data folder can panic ("node not
                # match") while the previous session's lease is still alive in etcd.
                last_error = exc
                self.down(quiet=True)
                if attempt < attempts:
                    time.sleep(5 * attempt)
        raise LocalMilvusError(f"{self.label} did not start after {attempts} attempts: {last_error}. Logs: {self.logs}")

    def down(self, timeout: float = 30.0, quiet: bool = False) -> None:
        """Stop the server: SIGTERM (graceful), then SIGKILL after ``timeout`` seconds."""
        processes.stop_group(self.pid(), timeout)
        processes.wait_port_closed(self.port, timeout=20)
        self.pid_file.unlink(missing_ok=True)
        self.state_file.unlink(missing_ok=True)
        if not quiet:
            print(f"{self.label} stopped ({self.uri})")

    def _clean_stale(self) -> None:
        """Recover from an earlier unclean stop: a live but unhealthy process, stale files."""
        if self.pid() is not None:
            self.down(quiet=True)
        self.pid_file.unlink(missing_ok=True)
        self.state_file.unlink(missing_ok=True)
        if processes.port_open(self.port):
            raise LocalMilvusError(
                f"port {self.port} is already in use by a process this project did not start; "
                f"stop it or choose another port ({self.port_env}=...)"
            )

    def _start_process(self) -> None:
        raise NotImplementedError

    def _after_start(self) -> None:
        """Runs once the server answers (also when ``up`` finds it running)."""

    def _spawn(self, argv: list[str], *, cwd: Path, env: dict[str, str], log_name: str) -> None:
        """Start ``argv`` as a daemon (own session and process group, output to log files)
        and record its pid."""
        processes.spawn_daemon(
            argv,
            cwd=cwd,
            env=env,
            stdout=self.logs / f"{log_name}-stdout.log",
            stderr=self.logs / f"{log_name}-stderr.log",
            pid_file=self.pid_file,
        )

    def _wait_healthy(self, timeout: float) -> None:
        try:
            processes.wait_until(
                lambda: self.is_healthy() and processes.port_open(self.port),
                timeout=timeout,
                what=f"{self.label} on {self.uri}",
                alive=lambda: self.pid() is not None,
            )
        except processes.ProcessTimeout as exc:
            raise LocalMilvusError(str(exc)) from None


@dataclass(frozen=True)
class LocalMilvus(LocalServer):
    """The ``milvus`` package's standalone server (v2.3.5-lite), authorization on."""

    @property
    def credentials_file(self) -> Path:
        return self.home / f"{self.name}-credentials.json"

    # ---- credentials -------------------------------------------------------------------

    def credentials(self) -> dict[str, str]:
        """``{"uri", "user", "password"}`` of the local server; creates the password once."""
        if self.credentials_file.exists():
            return json.loads(self.credentials_file.read_text())
        creds = {"uri": self.uri, "user": "root", "password": secrets.token_urlsafe(24)}
        self.home.mkdir(parents=True, exist_ok=True)
        # Create with 0600 from the start, so the secret is never readable by others.
        fd = os.open(self.credentials_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(creds, fh)
        return creds

    def token(self) -> str:
        creds = self.credentials()
        return f"{creds['user']}:{creds['password']}"

    def connection_uri(self) -> str:
        """An Airflow connection URI (``AIRFLOW_CONN_MILVUS_DEFAULT``) for this server."""
        creds = self.credentials()
        # No short extras (such as timeout=30, the default anyway): Airflow registers every
        # extra value with its log masker and warns about each one under five characters.
        return (
            f"milvus://{quote(creds['user'], safe='')}:{quote(creds['password'], safe='')}"
            f"@127.0.0.1:{self.port}/default?secure=false"
        )

    # ---- process state -----------------------------------------------------------------

    def health_port(self) -> int | None:
        try:
            return int(json.loads(self.state_file.read_text())["health_port"])
        except (OSError, ValueError, KeyError):
            return None

    def is_healthy(self) -> bool:
        port = self.health_port()
        if port is None or self.pid() is None:
            return False
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                return b"OK" in resp.read()
        except (urllib.error.URLError, OSError):
            return False

    # ---- start / stop --------------------------------------------------------------------

    def _after_start(self) -> None:
        self._secure_root_password()

    def _start_process(self) -> None:
        # The package's own config renderer and unpacker (see module docstring for why we
        # launch the binary ourselves). Imported late: only this path needs the package.
        import milvus as milvus_pkg

        self.data_dir.mkdir(parents=True, exist_ok=True)
        ports_file = self.data_dir / "configs" / "ports.json"
        ports = json.loads(ports_file.read_text()) if ports_file.exists() else {}
        # A restart reuses the ports of the previous start when they are all still free, so
        # the component addresses registered in etcd stay right while their leases expire;
        # otherwise (first start, another server took one meanwhile) pick afresh.
        reusable = (
            ports.get("proxy_port") == self.port
            and (self.data_dir / "configs" / "milvus.yaml").exists()
            and all(processes.port_free(port) for port in ports.values())
        )
        if not reusable:
            ports = self._write_config()
            ports_file.write_text(json.dumps(ports))
        milvus_pkg._initialize_data_files(str(self.data_dir))  # unpacks the binary once
        health_port = ports["health_port"]

        binary = self.data_dir / "bin" / "milvus"
        env = dict(os.environ)
        env.update(
            DEPLOY_MODE="STANDALONE",
            METRICS_PORT=str(health_port),
            MILVUS_RUN_DIR=str(self.data_dir / "run"),
            LD_LIBRARY_PATH=f"{binary.parent}:{os.environ.get('LD_LIBRARY_PATH', '')}",
        )
        self._spawn([str(binary), "run", "standalone"], cwd=self.data_dir, env=env, log_name="milvus")
        self.state_file.write_text(json.dumps({"health_port": health_port, "port": self.port}))

    def _write_config(self) -> dict[str, int]:
        """Render ``configs/milvus.yaml`` with the package's template; return the ports.

        Only the client port is pinned: the remaining ports are picked free, from the
        package's defaults upwards, so that a second server (the test session's) can run
        beside this one. Template values must go through set(); constructor kwargs only
        reach the port and storage resolution.
        """
        config = _server_config_class()(data_dir=str(self.data_dir), proxy_port=self.port)
        config.resolve_storage()
        config.set("authorization_enabled", True)
        config.resolve()
        health_port, sock = config.resolve_port(9091)
        sock.close()
        ports = {key: int(config.get(key)) for key in config.configurable_items if key.endswith("_port")}
        ports["etcd_peer_port"] = self._localize_config(config)
        return {**ports, "proxy_port": self.port, "health_port": health_port}

    def _localize_config(self, config) -> int:
        """Keep what can be kept on loopback there.

        - Every component advertises 127.0.0.1 to the others (left empty, each picks the
          machine's first non-loopback address). They still *listen* on all interfaces:
          this build cannot be told otherwise, hence auth and the generated password.
        - Embedded etcd gets its own loopback ports. Left to its defaults it always takes
          peer port 2380, so a second local server cannot start. The template has no key
          for it; Milvus reads a full etcd config file from ``etcd.config.path``.
        """
        client_port = int(config.get("etcd_port"))
        peer_port, sock = config.resolve_port(client_port + 1)
        sock.close()
        etcd_config = self.data_dir / "configs" / "embed-etcd.yaml"
        etcd_config.write_text(
            "name: default\n"
            f"data-dir: {config.get('etcd_data_dir')}\n"
            f"listen-client-urls: http://127.0.0.1:{client_port}\n"
            f"advertise-client-urls: http://127.0.0.1:{client_port}\n"
            f"listen-peer-urls: http://127.0.0.1:{peer_port}\n"
            f"initial-advertise-peer-urls: http://127.0.0.1:{peer_port}\n"
            f"initial-cluster: default=http://127.0.0.1:{peer_port}\n"
            "initial-cluster-state: new\n"
        )
        milvus_yaml = self.data_dir / "configs" / "milvus.yaml"
        text = milvus_yaml.read_text()
        anchor = "  use:\n    embed: true"
        if anchor not in text:
            raise LocalMilvusError(f"unexpected Milvus config layout in {milvus_yaml}")
        text = text.replace(anchor, f"  config:\n    path: {etcd_config}\n{anchor}", 1)
        text = re.sub(r"(?m)^(  ip:)\s*#.*$", r"\1 127.0.0.1", text)
        milvus_yaml.write_text(text)
        return peer_port

    def _secure_root_password(self) -> None:
        """Make sure ``root`` uses our generated password, never the factory default."""
        from pymilvus import MilvusClient
        from pymilvus.exceptions import MilvusException

        creds = self.credentials()
        deadline = time.monotonic() + 60
        while True:
            try:
                MilvusClient(uri=self.uri, token=self.token(), timeout=10).close()
                return
            except MilvusException:
                pass
            try:
                client = MilvusClient(uri=self.uri, token=f"root:{DEFAULT_ROOT_PASSWORD}", timeout=10)
            except MilvusException:
                # Neither password works. Right after start the proxy can refuse both for a
                # moment; after that, the data folder belongs to another password.
                if time.monotonic() < deadline:
                    time.sleep(1)
                    continue
                raise LocalMilvusError(
                    f"cannot log in to the local Milvus as root: the password in "
                    f"{self.credentials_file} does not match the data in {self.data_dir}. "
                    f"Remove both to start afresh (this deletes the local index)."
                ) from None
            try:
                client.update_password("root", DEFAULT_ROOT_PASSWORD, creds["password"])
            finally:
                client.close()


@dataclass(frozen=True)
class LocalMilvusLite(LocalServer):
    """The ``milvus-lite`` package's gRPC server (Milvus Lite 3.2.2, pure Python).

    It has no authentication whatsoever, so it is bound to 127.0.0.1 and nothing else (its
    own default is 0.0.0.0). Its gRPC listener sets SO_REUSEPORT, so a second server could
    silently share a taken port: ``up`` refuses a port that already answers. It stops
    gracefully on KeyboardInterrupt only (drains requests, flushes and unlocks its data
    folder); :func:`serve_lite` runs it with SIGTERM mapped to that, so :meth:`down` (SIGTERM,
    then SIGKILL) stops it cleanly.
    """

    port: int = DEFAULT_LITE_PORT
    name: str = "milvus-lite"
    label: ClassVar[str] = "local Milvus Lite"
    port_env: ClassVar[str] = "MILVUS_LITE_PORT"
    host: ClassVar[str] = "127.0.0.1"

    @property
    def logs(self) -> Path:
        # Beside the data folder, not in it: the data folder is Milvus Lite's own layout.
        return self.home / f"{self.name}-logs"

    def connection_uri(self) -> str:
        """An Airflow connection URI (``AIRFLOW_CONN_MILVUS_LITE``): no user, no secret."""
        return f"milvus://{self.host}:{self.port}/default?secure=false"

    def is_healthy(self) -> bool:
        """Our process is alive and a Milvus client gets a server version from the port."""
        if self.pid() is None or not processes.port_open(self.port):
            return False
        from pymilvus import MilvusClient
        from pymilvus.exceptions import MilvusException

        try:
            client = MilvusClient(uri=self.uri, timeout=3)
        except MilvusException:
            return False
        try:
            return bool(client.get_server_version())
        except MilvusException:
            return False
        finally:
            client.close()

    def up(self, timeout: float = 60.0, attempts: int = 1) -> None:
        super().up(timeout=timeout, attempts=attempts)

    def _start_process(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            sys.executable,
            "-c",
            "from milvus_toolkit_dev.local_milvus import serve_lite; serve_lite()",
            "server",
            "--data-dir",
            str(self.data_dir),
            "--host",
            self.host,
            "--port",
            str(self.port),
        ]
        self._spawn(argv, cwd=self.home, env=dict(os.environ), log_name="milvus-lite")
        self.state_file.write_text(json.dumps({"port": self.port, "host": self.host}))


# gRPC server options added to Milvus Lite's own. pymilvus keeps its channels alive with a ping
# every 10 s, also between calls; a Python gRPC server by default accepts a ping without data
# only every 5 minutes and after two "too early" ones answers GOAWAY too_many_pings, which
# fails whatever call is starting at that moment (seen in the test suite: a hook's connect
# after a 40 s DAG run). Accept pings every 5 s, with or without calls, and never hang up
# over them (a loopback-only server: nobody else can ping it).
LITE_PING_POLICY = (
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 5000),
    ("grpc.http2.max_ping_strikes", 0),
)


def serve_lite(argv: list[str] | None = None) -> int:
    """``milvus-lite`` (its own command line) with SIGTERM meaning a graceful stop, and a gRPC
    ping policy that pymilvus clients can live with (:data:`LITE_PING_POLICY`).

    ``milvus_lite``'s ``run_server`` stops gracefully on KeyboardInterrupt and nothing else;
    SIGINT may even be ignored when the parent was started in the background. Map both
    SIGTERM and SIGINT to KeyboardInterrupt, then run its ``main``. Its server is built by
    ``grpc.server(...)`` with fixed options and no way to add any: this process exists only
    to run it, so ``grpc.server`` is wrapped here to append the ping policy."""
    import grpc
    from milvus_lite.cmdline import main as lite_main

    make_server = grpc.server

    def server_with_ping_policy(*args, options=None, **kwargs):
        return make_server(*args, options=[*(options or ()), *LITE_PING_POLICY], **kwargs)

    grpc.server = server_with_ping_policy
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    args = sys.argv[1:] if argv is None else argv
    if "--host" not in args:
        raise SystemExit("serve_lite: pass --host (never the server's all-interfaces default)")
    return lite_main(args)


def _server_config_class():
    import milvus as milvus_pkg

    class ServerConfig(milvus_pkg.MilvusServerConfig):
        """The package probes ports without SO_REUSEADDR, so right after a stop it finds the
        client port "taken" by TIME_WAIT sockets for a minute; Milvus itself (Go) binds with
        SO_REUSEADDR and would start fine. Probe the way the server binds."""

        def try_bind_port(self, port):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
                sock.listen()
                return sock
            except OSError:
                sock.close()
                return None

    return ServerConfig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["up", "down", "status", "conn-uri"])
    parser.add_argument(
        "--lite", action="store_true", help="the Milvus Lite server (milvus-lite 3.2.2, no auth, 127.0.0.1 only)"
    )
    parser.add_argument("--home", type=Path, default=Path(os.environ.get("LOCAL_HOME", DEFAULT_HOME)))
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"default: $MILVUS_PORT or {DEFAULT_PORT}; with --lite $MILVUS_LITE_PORT or {DEFAULT_LITE_PORT}",
    )
    args = parser.parse_args(argv)
    kind = LocalMilvusLite if args.lite else LocalMilvus
    default_port = DEFAULT_LITE_PORT if args.lite else DEFAULT_PORT
    port = args.port if args.port is not None else int(os.environ.get(kind.port_env, default_port))
    server = kind(home=args.home.resolve(), port=port)
    try:
        if args.action == "up":
            started = time.monotonic()
            server.up()
            where = (
                f"credentials in {server.credentials_file}"
                if isinstance(server, LocalMilvus)
                else f"no authentication, loopback only; data in {server.data_dir}"
            )
            print(f"{server.label} ready at {server.uri} ({time.monotonic() - started:.1f} s); {where}")
        elif args.action == "down":
            server.down()
        elif args.action == "status":
            print(server.status())
        else:
            print(server.connection_uri())
    except LocalMilvusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
