"""What the machine did during a measurement: load average, CPU seconds of this process,
of the Milvus server and of everything else; the peak memory of a process tree; and
waiting until the server is idle before the next phase."""

from __future__ import annotations

import os
import resource
import threading
import time


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def milvus_process(uri: str):
    """The server process listening on the connection's port (to watch its CPU), or None."""
    from urllib.parse import urlsplit

    import psutil

    port = urlsplit(uri).port
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
                return psutil.Process(conn.pid)
    except (psutil.Error, OSError):
        pass
    return None


def settle(server, *, below_cores: float = 0.3, window: float = 3.0, max_wait: float = 120.0) -> dict:
    """Wait until the Milvus server is nearly idle (it builds HNSW indexes of sealed segments
    in the background), so one measurement does not pay for the previous one's index."""
    import psutil

    started = time.perf_counter()
    busy = None
    if server is not None:
        while time.perf_counter() - started < max_wait:
            try:
                before = sum(server.cpu_times()[:2])
                time.sleep(window)
                busy = (sum(server.cpu_times()[:2]) - before) / window
            except psutil.Error:
                break
            if busy < below_cores:
                break
    return {
        "waited_s": round(time.perf_counter() - started, 1),
        "server_cores_busy": None if busy is None else round(busy, 2),
    }


class PhaseMeter:
    """CPU seconds spent during a phase by this process (+ children), by the Milvus server and by
    the whole machine: shows how contended a measurement was on the shared machine."""

    def __init__(self, server) -> None:
        self.server = server

    def __enter__(self) -> PhaseMeter:
        import psutil

        self.t = time.perf_counter()
        self.sys0 = psutil.cpu_times()
        self.self0 = resource.getrusage(resource.RUSAGE_SELF)
        self.kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.srv0 = self._server_cpu()
        self.load0 = load_average()
        return self

    def _server_cpu(self) -> float | None:
        try:
            return sum(self.server.cpu_times()[:2]) if self.server is not None else None
        except Exception:
            return None

    def __exit__(self, *exc) -> None:
        import psutil

        wall = time.perf_counter() - self.t
        sys1 = psutil.cpu_times()
        busy = lambda t: t.user + t.nice + t.system + getattr(t, "irq", 0) + getattr(t, "softirq", 0)  # noqa: E731
        total = lambda t: sum(t)  # noqa: E731
        me = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        srv1 = self._server_cpu()
        client = (
            me.ru_utime
            + me.ru_stime
            - self.self0.ru_utime
            - self.self0.ru_stime
            + kids.ru_utime
            + kids.ru_stime
            - self.kids0.ru_utime
            - self.kids0.ru_stime
        )
        server = None if srv1 is None or self.srv0 is None else srv1 - self.srv0
        machine = busy(sys1) - busy(self.sys0)
        self.figures = {
            "wall_s": round(wall, 2),
            "client_cpu_s": round(client, 1),
            "milvus_cpu_s": None if server is None else round(server, 1),
            "machine_cpu_s": round(machine, 1),
            "others_cpu_s": None if server is None else round(machine - client - server, 1),
            "machine_busy_pct": round(100 * machine / max(total(sys1) - total(self.sys0), 1e-9), 1),
            "load_avg_before": self.load0,
            "load_avg_after": load_average(),
        }


class TreeRssSampler(threading.Thread):
    """Samples the RSS of a process and its children (the peak over the run, and the samples,
    to tell the peak during each task of an in-process ``airflow dags test``)."""

    def __init__(self, pid: int, every: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.pid, self.every, self.peak_mb, self._stop_event = pid, every, 0.0, threading.Event()
        self.samples: list[tuple[float, float]] = []  # (epoch seconds, MB): the tree's RSS over time

    def run(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self._stop_event.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
                rss = 0
                for p in procs:
                    try:
                        rss += p.memory_info().rss
                    except psutil.Error:
                        pass
                self.peak_mb = max(self.peak_mb, rss / 2**20)
                self.samples.append((time.time(), round(rss / 2**20, 1)))
            except psutil.Error:
                return
            self._stop_event.wait(self.every)

    def stop(self) -> float:
        self._stop_event.set()
        self.join(timeout=2)
        return round(self.peak_mb, 1)
