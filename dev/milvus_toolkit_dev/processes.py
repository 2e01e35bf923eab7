"""Process and port helpers that every local server of the dev tools shares (Linux: reads
``/proc``).

A local server here is a daemon in its own session and process group, with a pid file::

    pid = spawn_daemon(argv, cwd=..., env=..., stdout=log, pid_file=home / "x.pid")
    wait_until(lambda: port_open(port), timeout=30, what=f"x on port {port}", alive=lambda: alive(pid))
    ...
    stop_group(read_pid(home / "x.pid"), timeout=30)   # SIGTERM to the group, then SIGKILL

``local_milvus`` (one process group per server) and ``local_airflow`` (several components, their
task processes and strays) are built on these.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import nullcontext
from pathlib import Path


class ProcessTimeout(RuntimeError):
    """A process did not reach the awaited state in time."""


# ---- process state ---------------------------------------------------------------------------


def stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (state, ppid, pgrp, session,
    ...), or None if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def alive(pid: int | None) -> bool:
    """Is ``pid`` a live process? A zombie (exited, not yet reaped by its parent) is not."""
    if pid is None:
        return False
    fields = stat_fields(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def read_pid(pid_file: Path) -> int | None:
    """The pid recorded in ``pid_file`` if that process is alive, else None."""
    try:
        pid = int(Path(pid_file).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if alive(pid) else None


def process_table() -> dict[int, tuple[int, int]]:
    """``pid -> (ppid, session id)`` of every live process."""
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = stat_fields(int(entry.name))
            if fields and fields[0] not in ("Z", "X"):
                table[int(entry.name)] = (int(fields[1]), int(fields[3]))
    return table


def session_members(sid: int) -> list[int]:
    """All live processes of the session that ``sid`` leads (``start_new_session=True``)."""
    return sorted(pid for pid, (_, session) in process_table().items() if session == sid)


# ---- start -----------------------------------------------------------------------------------


def spawn_daemon(
    argv: list[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    stdout: Path,
    stderr: Path | None = None,
    pid_file: Path | None = None,
) -> int:
    """Start ``argv`` in its own session and process group (it survives the shell that started
    it and is stopped as a whole), output appended to ``stdout`` (and ``stderr``, else the same
    file); write its pid to ``pid_file``. Returns the pid."""
    Path(stdout).parent.mkdir(parents=True, exist_ok=True)
    with open(stdout, "ab") as out, open(stderr, "ab") if stderr is not None else nullcontext() as err:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err if err is not None else subprocess.STDOUT,
            start_new_session=True,
        )
    if pid_file is not None:
        Path(pid_file).write_text(str(proc.pid))
    return proc.pid


# ---- stop ------------------------------------------------------------------------------------


def signal_group(pid: int, sig: signal.Signals) -> None:
    """Send ``sig`` to the process group that ``pid`` leads (or to ``pid`` alone if the group
    cannot be signalled); a process that is gone already is no error."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        signal_pids([pid], sig)


def signal_pids(pids: Iterable[int], sig: signal.Signals) -> None:
    """Send ``sig`` to each of ``pids``, skipping those that are gone or not ours."""
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def wait_gone(pids: Iterable[int], timeout: float, interval: float = 0.1) -> bool:
    """Wait until none of ``pids`` is alive, at most ``timeout`` seconds; True if none is."""
    pids = list(pids)
    deadline = time.monotonic() + timeout
    while any(alive(p) for p in pids):
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True


def stop_group(pid: int | None, timeout: float = 30.0) -> None:
    """Stop the process group that ``pid`` leads: SIGTERM (graceful), SIGKILL after
    ``timeout`` seconds; returns once the leader is gone."""
    if pid is None or not alive(pid):
        return
    signal_group(pid, signal.SIGTERM)
    if not wait_gone([pid], timeout):
        signal_group(pid, signal.SIGKILL)
        wait_gone([pid], 60)


# ---- ports -----------------------------------------------------------------------------------


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 1.0) -> bool:
    """Does something accept TCP connections on ``host:port``?"""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        return sock.connect_ex((host, port)) == 0


def port_free(port: int, host: str = "0.0.0.0") -> bool:
    """Can a server bind ``port`` now (with SO_REUSEADDR, as most servers do, so sockets in
    TIME_WAIT do not count)?"""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port that is free on ``host`` right now (the kernel's choice)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_port_closed(port: int, timeout: float, host: str = "127.0.0.1") -> bool:
    """Wait until nothing listens on ``host:port``, at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while port_open(port, host):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)
    return True


def wait_until(
    ready: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    interval: float = 0.5,
    alive: Callable[[], bool] | None = None,
) -> None:
    """Poll ``ready()`` until it is true; raise :class:`ProcessTimeout` after ``timeout``
    seconds, or as soon as ``alive()`` (the process being waited for) turns false."""
    deadline = time.monotonic() + timeout
    while True:
        if alive is not None and not alive():
            raise ProcessTimeout(f"{what}: the process exited while starting")
        if ready():
            return
        if time.monotonic() >= deadline:
            raise ProcessTimeout(f"{what}: not ready within {timeout:.0f} s")
        time.sleep(interval)


# ---- inspection ------------------------------------------------------------------------------


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a log file, or ``(no log)``."""
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def listening_sockets(pids: Iterable[int]) -> list[tuple[int, str, int]]:
    """``(pid, address, port)`` of every TCP socket in LISTEN state held by ``pids``."""
    inodes: dict[str, int] = {}
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    target = os.readlink(fd)
                except OSError:
                    continue
                if target.startswith("socket:["):
                    inodes[target[8:-1]] = pid
        except OSError:
            continue
    found = []
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            local, st, inode = cols[1], cols[3], cols[9]
            if st != "0A" or inode not in inodes:  # 0A = LISTEN
                continue
            addr_hex, port_hex = local.split(":")
            raw = bytes.fromhex(addr_hex)
            if family == socket.AF_INET:
                addr = socket.inet_ntop(family, raw[::-1])
            else:  # four little-endian 32-bit words
                addr = socket.inet_ntop(family, b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4)))
            found.append((inodes[inode], addr, int(port_hex, 16)))
    return found
