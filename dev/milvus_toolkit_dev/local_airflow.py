"""Start and stop a local Airflow made of its real, separate components.

``airflow standalone`` binds its log servers on every interface and forks dozens of
processes, so this module runs the components itself, each in its own session (process
group), on loopback only:

- ``api-server`` on ``127.0.0.1:<port>`` (UI, REST API and the Execution API the tasks use),
  one uvicorn worker;
- ``scheduler --skip-serve-logs``, ``dag-processor``, ``triggerer --skip-serve-logs``;
- with ``--executor celery``: two ``celery worker`` processes with different Celery hostnames
  (``--skip-serve-logs``, small concurrency), Redis as broker, PostgreSQL as result backend.

Nothing listens beyond 127.0.0.1: no log server is started (every component shares one
``AIRFLOW_HOME``, so the api-server reads task logs from disk) and no Flower. Flower, if you
want it, binds loopback with ``airflow celery flower --hostname 127.0.0.1 --port 5555``.

The metadata database is the machine's PostgreSQL (a database of its own, created if
missing, migrated at every start); Celery's broker is the machine's Redis (a database
number of its own). Both must run on loopback already (see docs/deployment.md).

State lives in a run folder (default ``.local/airflow-run``): one pid file and one log file
per component, ``state.json`` (how the stack was started), ``secrets.json`` (0600: the JWT,
API and Fernet keys the components must share) and ``env.sh`` (source it to point the
``airflow`` CLI at the running stack). Every process started here carries the run folder in
its environment (``MILVUS_TOOLKIT_AIRFLOW_RUN``), so ``down`` finds and stops all of them,
also task processes and anything that left its process group.

Usage::

    python -m milvus_toolkit_dev.local_airflow up [--executor local|celery] [--port 8080]
    python -m milvus_toolkit_dev.local_airflow status
    python -m milvus_toolkit_dev.local_airflow down

``up`` and ``down`` are idempotent: ``up`` on a running stack only checks it (and starts a
component that died); ``down`` on a stopped one does nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from milvus_toolkit_dev import processes
from milvus_toolkit_dev.local_milvus import REPO_ROOT, LocalMilvus

DEFAULT_LOCAL_HOME = REPO_ROOT / ".local"
DEFAULT_PORT = 8080
DEFAULT_DB = "milvus_toolkit_airflow"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432"  # the machine's PostgreSQL, trust auth
DEFAULT_BROKER = "redis://127.0.0.1:6379/1"  # the machine's Redis; db 1 keeps clear of db 0
RUN_MARKER = "MILVUS_TOOLKIT_AIRFLOW_RUN"  # set in every process this module starts
WORKER_NAME_VAR = "MILVUS_TOOLKIT_WORKER_HOSTNAME"
EXECUTORS = {"local": "LocalExecutor", "celery": "CeleryExecutor"}


class LocalAirflowError(RuntimeError):
    """The local Airflow could not be started, reached or stopped."""


def worker_hostname() -> str:
    """Airflow's ``[core] hostname_callable`` for this stack.

    A task instance records the host it ran on. Two Celery workers on one machine would
    both record the machine's name, so each worker started here exports its own Celery
    hostname and its tasks report that; everything else reports the machine's FQDN, as
    Airflow does by default.
    """
    return os.environ.get(WORKER_NAME_VAR) or socket.getfqdn()


@dataclass(frozen=True)
class Component:
    name: str
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class LocalAirflow:
    """One local Airflow stack and where its state lives."""

    run_dir: Path = DEFAULT_LOCAL_HOME / "airflow-run"
    airflow_home: Path = DEFAULT_LOCAL_HOME / "airflow"
    executor: str = "local"
    port: int = DEFAULT_PORT
    db_name: str = DEFAULT_DB
    pg_url: str = DEFAULT_PG
    broker_url: str = DEFAULT_BROKER
    queue: str = "milvus_toolkit"  # Celery queue (also Airflow's default queue)
    workers: int = 2
    worker_concurrency: int = 2
    worker_prefix: str = "mtk-worker-"
    parallelism: int = 4
    extra_env: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self):
        if self.executor not in EXECUTORS:
            raise LocalAirflowError(f"executor must be one of {', '.join(EXECUTORS)}, not {self.executor!r}")

    # ---- configuration -----------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def sql_alchemy_conn(self) -> str:
        return self.pg_url.replace("postgresql://", "postgresql+psycopg2://", 1) + f"/{self.db_name}"

    @property
    def worker_names(self) -> list[str]:
        return [f"{self.worker_prefix}{i}" for i in range(1, self.workers + 1)] if self.executor == "celery" else []

    def components(self) -> list[Component]:
        """In start order; stopped in reverse (workers first, the api-server last, so that
        running tasks can still report to the Execution API while they finish)."""
        comps = [
            Component(
                "api-server",
                ("airflow", "api-server", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"),
            ),
            Component("dag-processor", ("airflow", "dag-processor")),
            Component("triggerer", ("airflow", "triggerer", "--skip-serve-logs")),
            Component("scheduler", ("airflow", "scheduler", "--skip-serve-logs")),
        ]
        for name in self.worker_names:
            comps.append(
                Component(
                    name,
                    (
                        "airflow",
                        "celery",
                        "worker",
                        "--celery-hostname",
                        name,
                        "--queues",
                        self.queue,
                        "--concurrency",
                        str(self.worker_concurrency),
                        "--skip-serve-logs",
                    ),
                    env=((WORKER_NAME_VAR, name),),
                )
            )
        return comps

    def secrets(self) -> dict[str, str]:
        """Keys every component must share (JWT for task tokens, API session, Fernet for
        stored connections); created once, 0600, kept across restarts with the database."""
        path = self.run_dir / "secrets.json"
        if path.exists():
            return json.loads(path.read_text())
        from cryptography.fernet import Fernet

        values = {
            "jwt_secret": secrets.token_urlsafe(32),
            "api_secret_key": secrets.token_urlsafe(32),
            "fernet_key": Fernet.generate_key().decode(),
        }
        self.run_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(values, fh)
        return values

    def airflow_env(self) -> dict[str, str]:
        """The Airflow settings of this stack (without the caller's environment)."""
        keys = self.secrets()
        env = {
            "AIRFLOW_HOME": str(self.airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__CORE__EXECUTOR": EXECUTORS[self.executor],
            "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "milvus_toolkit_dev.local_airflow.worker_hostname",
            "AIRFLOW__CORE__FERNET_KEY": keys["fernet_key"],
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.sql_alchemy_conn,
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__SECRET_KEY": keys["api_secret_key"],
            "AIRFLOW__API_AUTH__JWT_SECRET": keys["jwt_secret"],
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",  # would listen on 8974
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": self.queue,
            "MILVUS_TOOLKIT_STAGING": str(self.run_dir.parent / "staging"),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
        }
        if self.executor == "celery":
            env.update(
                {
                    "AIRFLOW__CELERY__BROKER_URL": self.broker_url,
                    "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + self.sql_alchemy_conn,
                    "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.worker_concurrency),
                    "AIRFLOW__CELERY__FLOWER_HOST": "127.0.0.1",
                }
            )
        # The caller's own settings for the pipeline win (e.g. the staging folder that
        # dev-env.sh chose); Airflow's wiring above does not.
        for key in ("MILVUS_TOOLKIT_STAGING",):
            if os.environ.get(key):
                env[key] = os.environ[key]
        env.update(self.extra_env)
        return env

    def process_env(self, component: Component | None = None) -> dict[str, str]:
        env = dict(os.environ)  # other AIRFLOW__* settings of the caller pass through
        env.pop(RUN_MARKER, None)
        env.update(self.airflow_env())
        venv_bin = str(Path(sys.executable).parent)
        env["PATH"] = f"{venv_bin}:{env.get('PATH', '')}"
        if not env.get("AIRFLOW_CONN_MILVUS_DEFAULT"):
            # As scripts/dev-env.sh does: the local Milvus server (`make milvus-up`).
            local_home = Path(os.environ.get("LOCAL_HOME") or DEFAULT_LOCAL_HOME)
            env["AIRFLOW_CONN_MILVUS_DEFAULT"] = LocalMilvus(home=local_home).connection_uri()
        env[RUN_MARKER] = str(self.run_dir.resolve())
        if component is not None:
            env.update(dict(component.env))
        return env

    # ---- files ------------------------------------------------------------------------

    def pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.run_dir / "logs" / f"{name}.log"

    @property
    def state_file(self) -> Path:
        return self.run_dir / "state.json"

    def state(self) -> dict | None:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None

    def _state_dict(self) -> dict:
        return {
            "executor": self.executor,
            "port": self.port,
            "db_name": self.db_name,
            "pg_url": self.pg_url,
            "broker_url": self.broker_url,
            "queue": self.queue,
            "airflow_home": str(self.airflow_home),
            "components": [c.name for c in self.components()],
        }

    def pid(self, name: str) -> int | None:
        return processes.read_pid(self.pid_file(name))

    # ---- database and broker ------------------------------------------------------------

    def ensure_database(self) -> None:
        """Create the metadata database if it does not exist (idempotent)."""
        import psycopg2

        try:
            conn = psycopg2.connect(self.pg_url + "/postgres", connect_timeout=5)
        except psycopg2.OperationalError as exc:
            raise LocalAirflowError(
                f"PostgreSQL is not reachable at {self.pg_url}: {exc}".strip()
                + "\nStart it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
            ) from None
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.db_name,))
                if cur.fetchone() is None:
                    cur.execute(f'CREATE DATABASE "{self.db_name}"')
        finally:
            conn.close()

    def drop_database(self) -> None:
        """Drop the metadata database (tests; never called by ``down``)."""
        import psycopg2

        conn = psycopg2.connect(self.pg_url + "/postgres", connect_timeout=5)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        finally:
            conn.close()

    def drop_broker_queue(self) -> None:
        """Remove this stack's queue and its bindings from the broker (tests)."""
        import redis

        client = redis.Redis.from_url(self.broker_url, socket_connect_timeout=3)
        try:
            keys = [self.queue, *client.scan_iter(match=f"_kombu.binding*.{self.queue}")]
            client.delete(*keys)
        finally:
            client.close()

    def _check_broker(self) -> None:
        import redis

        try:
            redis.Redis.from_url(self.broker_url, socket_connect_timeout=3).ping()
        except redis.RedisError as exc:
            raise LocalAirflowError(
                f"Redis is not reachable at {self.broker_url}: {exc}\nStart it with: redis-server "
                "--daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save '' --appendonly no"
            ) from None

    def migrate(self) -> None:
        log = self.log_file("db-migrate")
        with open(log, "w") as out:
            result = subprocess.run(
                ["airflow", "db", "migrate"],
                env=self.process_env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=900,
                cwd=self.run_dir,
            )
        if result.returncode != 0:
            raise LocalAirflowError(f"airflow db migrate failed:\n{processes.tail(log)}")

    # ---- start / stop --------------------------------------------------------------------

    def up(self, timeout: float = 240.0) -> None:
        """Start every component that is not running; wait until the stack is healthy."""
        state = self.state()
        running = {c.name: self.pid(c.name) for c in self.components()}
        if state and any(self.pid(name) for name in state.get("components", [])):
            wanted = self._state_dict()
            diff = {
                k: (state.get(k), wanted[k])
                for k in ("executor", "port", "db_name", "broker_url", "queue", "airflow_home")
                if state.get(k) != wanted[k]
            }
            if diff:
                raise LocalAirflowError(
                    f"a local Airflow already runs from {self.run_dir} with other settings "
                    f"({', '.join(f'{k}: {a} -> {b}' for k, (a, b) in diff.items())}); "
                    f"stop it first (make airflow-down)"
                )
        missing = [c for c in self.components() if running[c.name] is None]
        if not missing and self.is_healthy():
            return
        (self.run_dir / "logs").mkdir(parents=True, exist_ok=True)
        self.airflow_home.mkdir(parents=True, exist_ok=True)
        self.ensure_database()
        if self.executor == "celery":
            self._check_broker()
        if any(c.name == "api-server" for c in missing) and processes.port_open(self.port):
            raise LocalAirflowError(
                f"port {self.port} on 127.0.0.1 is taken by another program; "
                f"choose another with AIRFLOW_API_PORT=... (or --port)"
            )
        if missing:
            self.migrate()
        self.state_file.write_text(json.dumps(self._state_dict(), indent=2))
        try:
            for comp in missing:
                self._start(comp)
            self._write_env_file()
            self._wait_healthy(timeout)
        except BaseException:
            # A half-started stack helps nobody: stop it all (the logs stay for reading).
            self.down(timeout=15)
            raise

    def _start(self, comp: Component) -> None:
        processes.spawn_daemon(
            list(comp.argv),
            cwd=self.run_dir,
            env=self.process_env(comp),
            stdout=self.log_file(comp.name),
            pid_file=self.pid_file(comp.name),
        )

    def down(self, timeout: float = 45.0) -> list[int]:
        """Stop everything this stack started: SIGTERM (graceful), SIGKILL after ``timeout``.

        Returns the pids that were still alive when asked to stop."""
        targets: list[int] = []
        state = self.state() or {}
        names = state.get("components") or [c.name for c in self.components()]
        # Scheduler first (nothing new gets queued), then the workers (a warm shutdown lets
        # running tasks finish), the api-server last (tasks report to its Execution API).
        order = [n for n in ("scheduler",) if n in names]
        order += [n for n in names if n not in ("scheduler", "triggerer", "dag-processor", "api-server")]
        order += [n for n in ("triggerer", "dag-processor", "api-server") if n in names]
        for name in order:
            pid = self.pid(name)
            if pid is not None:
                members = processes.session_members(pid)
                targets += members
                processes.signal_pids(members, signal.SIGTERM)
                processes.wait_gone(members, timeout)
        # Anything else carrying this stack's marker (task processes, strays).
        strays = self.processes()
        if strays:
            targets += strays
            processes.signal_pids(strays, signal.SIGTERM)
            processes.wait_gone(strays, 10)
        leftover = [p for p in self.processes() + targets if processes.alive(p)]
        processes.signal_pids(leftover, signal.SIGKILL)
        processes.wait_gone(leftover, 10)
        for name in names:
            self.pid_file(name).unlink(missing_ok=True)
        still = [p for p in self.processes() if processes.alive(p)]
        if still:
            raise LocalAirflowError(f"processes survived SIGKILL: {still}")
        return sorted(set(targets))

    def processes(self) -> list[int]:
        """Every live process of this stack: the sessions its components lead, anything
        carrying its run-folder marker, and all their descendants.

        Three nets, because each alone has holes: Airflow renames its processes with
        setproctitle, which can overwrite /proc/<pid>/environ (the marker); a task's
        subprocess may start a session of its own (start_new_session=True)."""
        names = (self.state() or {}).get("components") or [c.name for c in self.components()]
        table = processes.process_table()
        leaders = {pid for pid in (self.pid(n) for n in names) if pid is not None}
        found = {pid for pid, (_, sid) in table.items() if sid in leaders}
        marker = f"{RUN_MARKER}={self.run_dir.resolve()}".encode()
        for pid in table:
            try:
                if marker in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                    found.add(pid)
            except OSError:
                continue
        children: dict[int, list[int]] = {}
        for pid, (ppid, _) in table.items():
            children.setdefault(ppid, []).append(pid)
        stack = list(found)
        while stack:
            for child in children.get(stack.pop(), []):
                if child not in found:
                    found.add(child)
                    stack.append(child)
        found.discard(os.getpid())
        return sorted(found)

    # ---- health ------------------------------------------------------------------------

    def health(self) -> dict:
        with urllib.request.urlopen(f"{self.base_url}/api/v2/monitor/health", timeout=5) as resp:
            return json.loads(resp.read())

    def is_healthy(self) -> bool:
        try:
            health = self.health()
        except (urllib.error.URLError, OSError, ValueError):
            return False
        parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
        if any((health.get(p) or {}).get("status") != "healthy" for p in parts):
            return False
        return not self.worker_names or set(self.ping_workers()) == set(self.worker_names)

    def ping_workers(self, timeout: float = 3.0) -> list[str]:
        """Names of this stack's Celery workers that answer a ping through the broker."""
        from celery import Celery

        app = Celery(broker=self.broker_url)
        try:
            replies = app.control.ping(destination=[f"celery@{n}" for n in self.worker_names], timeout=timeout)
        finally:
            app.close()
        return sorted(name.split("@", 1)[1] for reply in replies for name in reply)

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dead = [c.name for c in self.components() if self.pid(c.name) is None]
            if dead:
                logs = "\n".join(f"--- {n} ---\n{processes.tail(self.log_file(n))}" for n in dead)
                raise LocalAirflowError(f"component(s) exited during start-up: {', '.join(dead)}\n{logs}")
            if self.is_healthy():
                return
            time.sleep(1)
        raise LocalAirflowError(
            f"the local Airflow was not healthy within {timeout:.0f} s; logs in {self.run_dir / 'logs'}"
        )

    def status(self) -> str:
        lines = []
        state = self.state()
        if state is None:
            return f"stopped (nothing started from {self.run_dir})"
        lines.append(
            f"executor {state['executor']}, {self.base_url}, database {state['db_name']}"
            + (f", broker {state['broker_url']} queue {state['queue']}" if state["executor"] == "celery" else "")
        )
        for name in state.get("components", []):
            pid = self.pid(name)
            lines.append(f"  {name:14s} {f'running (pid {pid})' if pid else 'stopped'}")
        try:
            health = self.health()
            lines.append("  health: " + ", ".join(f"{k}={(v or {}).get('status')}" for k, v in health.items()))
        except (urllib.error.URLError, OSError, ValueError):
            lines.append("  health: api-server not answering")
        return "\n".join(lines)

    # ---- REST API helpers ---------------------------------------------------------------

    def admin_password(self) -> str:
        """SimpleAuthManager writes the admin password on the api-server's first start."""
        path = self.airflow_home / "simple_auth_manager_passwords.json.generated"
        return json.loads(path.read_text())["admin"]

    def token(self) -> str:
        body = json.dumps({"username": "admin", "password": self.admin_password()}).encode()
        req = urllib.request.Request(
            f"{self.base_url}/auth/token", data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())["access_token"]

    def _write_env_file(self) -> None:
        """``source <run_dir>/env.sh`` points the ``airflow`` CLI at this stack (0600: it
        holds the Fernet key and the Milvus connection)."""
        env = self.process_env()
        keys = sorted(k for k in env if k.startswith("AIRFLOW") or k.startswith("MILVUS_TOOLKIT_"))
        keys = [k for k in keys if k != RUN_MARKER]
        text = "# Generated by milvus_toolkit_dev.local_airflow: the running local Airflow's settings.\n"
        text += f"source {REPO_ROOT / '.venv' / 'bin' / 'activate'}\n"
        text += "".join(f"export {k}={_shell_quote(env[k])}\n" for k in keys)
        path = self.run_dir / "env.sh"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)


def _shell_quote(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"


def from_environment(executor: str | None = None, port: int | None = None) -> LocalAirflow:
    """The developer's stack, configured by environment variables (see ``--help``)."""
    local_home = Path(os.environ.get("LOCAL_HOME") or DEFAULT_LOCAL_HOME).resolve()
    return LocalAirflow(
        run_dir=Path(os.environ.get("AIRFLOW_RUN_DIR") or local_home / "airflow-run"),
        airflow_home=Path(os.environ.get("AIRFLOW_HOME") or local_home / "airflow"),
        executor=executor or os.environ.get("EXECUTOR") or "local",
        port=port or int(os.environ.get("AIRFLOW_API_PORT") or DEFAULT_PORT),
        db_name=os.environ.get("AIRFLOW_DB_NAME") or DEFAULT_DB,
        pg_url=os.environ.get("AIRFLOW_PG_URL") or DEFAULT_PG,
        broker_url=os.environ.get("AIRFLOW_BROKER_URL") or DEFAULT_BROKER,
        workers=int(os.environ.get("AIRFLOW_CELERY_WORKERS") or 2),
        worker_concurrency=int(os.environ.get("AIRFLOW_WORKER_CONCURRENCY") or 2),
        parallelism=int(os.environ.get("AIRFLOW_PARALLELISM") or 4),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Environment: LOCAL_HOME, AIRFLOW_HOME, AIRFLOW_RUN_DIR, EXECUTOR, AIRFLOW_API_PORT, "
        "AIRFLOW_DB_NAME, AIRFLOW_PG_URL, AIRFLOW_BROKER_URL, AIRFLOW_CELERY_WORKERS, "
        "AIRFLOW_WORKER_CONCURRENCY, AIRFLOW_PARALLELISM.",
    )
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument("--executor", choices=sorted(EXECUTORS))
    parser.add_argument("--port", type=int)
    args = parser.parse_args(argv)
    try:
        if args.action == "down":
            # Stop what was started, whatever the current settings say.
            stack = from_environment()
            state = stack.state() or {}
            if state:
                stack = from_environment(executor=state["executor"], port=state["port"])
            stopped = stack.down()
            print(f"local Airflow stopped ({len(stopped)} processes)" if stopped else "local Airflow: nothing running")
            return 0
        stack = from_environment(args.executor, args.port)
        if args.action == "status":
            state = stack.state()
            if state:
                stack = from_environment(executor=state["executor"], port=state["port"])
            print(stack.status())
            return 0
        started = time.monotonic()
        already = stack.is_healthy() and all(stack.pid(c.name) for c in stack.components())
        stack.up()
        verb = "already running" if already else f"ready in {time.monotonic() - started:.0f} s"
        print(
            f"local Airflow ({EXECUTORS[stack.executor]}) {verb}: {stack.base_url} "
            f"(user admin, password in {stack.airflow_home / 'simple_auth_manager_passwords.json.generated'})"
        )
        if stack.worker_names:
            print(f"  Celery workers: {', '.join(stack.worker_names)} on queue '{stack.queue}' ({stack.broker_url})")
        print(f"  logs: {stack.run_dir / 'logs'};  CLI against it: source {stack.run_dir / 'env.sh'}")
    except LocalAirflowError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
