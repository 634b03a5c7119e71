"""joulebench from Python: measurement windows, power caps, and stores as DataFrames.

A thin layer over joulebench's C++ core (the module ``joulebench._joulebench``): the same
sensors, sampler, result JSON, cap journal and guardian, store reader and statistics as the
``joulebench`` command line. The API is documented in docs/python.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence

from . import _joulebench
from ._joulebench import Error

__all__ = ["Error", "Result", "Monitor", "window", "power_cap", "CapBlock", "Store",
           "open_store", "analyze", "analyze_store", "executable"]


class Result:
    """The measurement of one window: the fields of ``joulebench measure --json``.

    Every key of that document is an attribute (``r.wall_s``, ``r.domains``, ``r.warnings``,
    ``r.warning_codes``, ...); ``r.energy_j`` is ``total_energy_j``; ``r.name`` the window's
    name; ``r.json`` the whole document (a dict).
    """

    def __init__(self, document: Dict[str, Any]):
        self.json = document

    @property
    def name(self) -> str:
        return self.json["command"][0]

    @property
    def energy_j(self) -> float:
        return self.json["total_energy_j"]

    def __getattr__(self, key: str) -> Any:
        try:
            return self.__dict__["json"][key]
        except KeyError:
            raise AttributeError(f"Result has no field {key!r} (fields: "
                                 f"{', '.join(self.__dict__['json'])})") from None

    def domain(self, domain_id: str) -> Dict[str, Any]:
        """The domain whose ``id`` is domain_id ("gpu0", "package0", ...)."""
        for d in self.json["domains"]:
            if d["id"] == domain_id:
                return d
        raise KeyError(f"no domain {domain_id!r} (domains: "
                       f"{', '.join(d['id'] for d in self.json['domains'])})")

    def __repr__(self) -> str:
        return (f"Result({self.name!r}, energy_j={self.energy_j:.3f}, "
                f"wall_s={self.json['wall_s']:.3f}, domains={len(self.json['domains'])})")


def _gpus_text(gpus: Any) -> str:
    if gpus is None:
        return "all"
    if isinstance(gpus, str):
        return gpus
    if isinstance(gpus, int):
        return str(gpus)
    return ",".join(str(int(g)) for g in gpus) if list(gpus) else "none"


class Monitor:
    """One sampling thread over the selected sensors, shared by every window it measures.

    ``begin(name)`` and ``end(name)`` open and close windows by name; windows may nest and
    overlap, and each costs two readings of every sensor, not a thread.
    """

    def __init__(self, interval_ms: int = 100, gpus: Any = None):
        self.interval_ms = int(interval_ms)
        self.gpus = _gpus_text(gpus)
        self._core = _joulebench.Monitor(self.gpus, self.interval_ms)

    def begin(self, name: str) -> None:
        """Opens the window ``name`` now (ValueError if one of that name is open)."""
        self._core.begin(name)

    def end(self, name: str) -> Result:
        """Closes the window ``name`` now and returns its Result (ValueError if not open)."""
        return Result(json.loads(self._core.end(name)))

    @contextlib.contextmanager
    def window(self, name: str) -> Iterator["Window"]:
        """``with monitor.window(name) as w:`` begin at entry, end at exit (also on an
        exception); the fields of the Result are then attributes of ``w``."""
        w = Window(name)
        self.begin(name)
        try:
            yield w
        finally:
            w.result = self.end(name)

    @property
    def open_windows(self) -> List[str]:
        return list(self._core.open_windows())

    @property
    def domains(self) -> List[str]:
        """The ids of the domains measured ("gpu0", "package0", ...), in order."""
        return list(self._core.domains())

    @property
    def poll_interval_ms(self) -> float:
        return self._core.poll_interval_ms()

    def close(self) -> None:
        """Stops the sampling thread; later begin() calls raise."""
        self._core.close()

    def __enter__(self) -> "Monitor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Window:
    """What ``with window(...) as w`` yields: the Result's fields once the block has ended."""

    def __init__(self, name: str):
        self.name = name
        self.result: Optional[Result] = None

    def __getattr__(self, key: str) -> Any:
        result = self.__dict__.get("result")
        if result is None:
            raise AttributeError(f"window {self.__dict__['name']!r} has not ended yet: "
                                 f"its {key} is known after the with block")
        return getattr(result, key)


_monitors: Dict[Any, Monitor] = {}
_monitors_lock = threading.Lock()


def _shared_monitor(gpus: Any, interval_ms: int) -> Monitor:
    key = (_gpus_text(gpus), int(interval_ms))
    with _monitors_lock:
        monitor = _monitors.get(key)
        if monitor is None:
            monitor = _monitors[key] = Monitor(interval_ms=interval_ms, gpus=gpus)
        return monitor


def window(name: str, gpus: Any = None, interval_ms: int = 100):
    """``with joulebench.window("epoch", gpus=[0]) as w:`` measures the block.

    Uses one Monitor per (gpus, interval_ms), made at first use and shared by every later window
    with the same selection (its thread samples on while the program runs).
    """
    return _shared_monitor(gpus, interval_ms).window(name)


def executable() -> str:
    """The joulebench program the cap guardian runs (``joulebench caps guardian``):
    $JOULEBENCH_EXECUTABLE, else the one installed with this package, else the one of the build
    folder the package was built in, else ``joulebench`` on PATH."""
    env = os.environ.get("JOULEBENCH_EXECUTABLE")
    if env:
        return env
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bin", "joulebench")
    if os.access(here, os.X_OK):
        return here
    try:
        from ._build_info import BUILD_EXECUTABLE
        if os.access(BUILD_EXECUTABLE, os.X_OK):
            return BUILD_EXECUTABLE
    except ImportError:
        pass
    found = shutil.which("joulebench")
    if found:
        return found
    raise FileNotFoundError("joulebench: the joulebench program is needed for power caps (its "
                            "guardian): set JOULEBENCH_EXECUTABLE or put joulebench on PATH")


class CapBlock:
    """The caps of one ``with power_cap(...)`` block (what the with statement yields)."""

    def __init__(self, core: Any):
        self._core = core
        self.restored: Optional[bool] = None

    @property
    def outcomes(self) -> List[Dict[str, Any]]:
        """Per device: device, requested_w, original_w, enforced_w, restored, restore_error,
        journal_file."""
        return json.loads(self._core.outcomes())

    @property
    def warnings(self) -> List[str]:
        return list(self._core.warnings())

    @property
    def guardian_pid(self) -> int:
        return self._core.guardian_pid()

    def restore(self) -> bool:
        """Restores every cap now (the block's exit does it too); False when one failed."""
        if self.restored is None:
            self.restored = self._core.restore()
        return self.restored


@contextlib.contextmanager
def power_cap(gpu: Optional[int] = None, watts: Optional[float] = None,
              cpu_watts: Optional[float] = None, gpus: Any = None) -> Iterator[CapBlock]:
    """``with joulebench.power_cap(gpu=0, watts=250):`` caps for the block.

    gpu=None with watts caps every GPU of ``gpus`` (default all); cpu_watts caps every CPU
    package (powercap). Through joulebench's journal and guardian: restored when the block exits,
    on an exception, and by the guardian if this process is killed (even by SIGKILL). Raises
    ValueError for a limit out of range or a GPU that is not there (nothing is written), and
    RuntimeError when a restore fails (the journal keeps it for ``joulebench caps restore``).
    """
    block = CapBlock(_joulebench.CapBlock(gpu, None if watts is None else float(watts),
                                          None if cpu_watts is None else float(cpu_watts),
                                          _gpus_text(gpus), executable()))
    try:
        yield block
    finally:
        if not block.restore():
            failed = [f"{o['device']}: {o['restore_error']}" for o in block.outcomes
                      if not o["restored"]]
            raise Error("power_cap: restore failed: " + "; ".join(failed) +
                        " (run `joulebench caps restore`)")


def _frame(rows: List[Dict[str, Any]], columns: Sequence[str]):
    try:
        import pandas
    except ImportError:
        return rows
    return pandas.DataFrame(rows, columns=list(columns))


class Store:
    """A results store read once: ``runs``, ``domains`` and ``phases`` as pandas DataFrames
    (lists of dicts when pandas is not installed)."""

    def __init__(self, path: str):
        self.path = os.fspath(path)
        doc = json.loads(_joulebench.read_store(self.path))
        run_columns = list(doc["runs"][0]) if doc["runs"] else _RUN_COLUMNS
        domain_columns = list(doc["domains"][0]) if doc["domains"] else _DOMAIN_COLUMNS
        phase_columns = doc["phases"]["columns"]
        phases = [dict(zip(phase_columns, row)) for row in doc["phases"]["rows"]]
        self.runs = _frame(doc["runs"], run_columns)
        self.domains = _frame(doc["domains"], domain_columns)
        self.phases = _frame(phases, phase_columns)

    def analyze(self, metric: str = "energy_j", by: Optional[str] = None, **options: Any):
        """``joulebench analyze DB``'s analysis of this store (see analyze_store)."""
        return analyze_store(self.path, metric=metric, by=by, **options)

    def __repr__(self) -> str:
        return f"Store({self.path!r}, runs={len(self.runs)})"


_RUN_COLUMNS = ["run_id", "plan_index", "workload", "environment", "gpu_cap_w", "cpu_cap_w",
                "repetition", "status", "attempt", "gpu", "session_id", "started_at", "ended_at",
                "exit_code", "signal", "wall_s", "energy_j", "gpu_energy_j", "cpu_energy_j",
                "edp_js", "ed2p_js2", "idle_power_w", "net_energy_j", "total_includes_estimate",
                "cpu_attributed", "cpu_shared", "instances", "start_skew_s"]
_DOMAIN_COLUMNS = ["run_id", "domain_index", "domain", "kind", "method", "energy_j",
                   "avg_power_w", "peak_power_w", "counts_in_total", "idle_power_w",
                   "net_energy_j", "sharing", "cpu_time_share", "measured_energy_j",
                   "measured_on", "instance"]


def open_store(path: str) -> Store:
    """Opens a results store to read it (an older schema is upgraded first, as `analyze DB`
    does; FileNotFoundError / RuntimeError naming the file)."""
    return Store(path)


def _rows(data: Any) -> Iterable[Dict[str, Any]]:
    if hasattr(data, "to_dict"):
        return data.to_dict("records")
    return data


def analyze(data: Any, group: str, value: str, baseline: Optional[str] = None,
            alpha: float = 0.05, p_adjust: str = "bonferroni", resamples: int = 10000,
            seed: int = 20240521) -> Dict[str, Any]:
    """``joulebench analyze --csv``'s analysis of a table: ``data`` a DataFrame (or a list of
    dicts), ``group`` the column naming each row's group, ``value`` the numeric column. Groups
    in order of first appearance. Returns the JSON document of ``analyze --csv --json`` (dict).
    ValueError names the row of a missing or non-numeric value or an unknown column."""
    groups: Dict[str, List[float]] = {}
    for i, row in enumerate(_rows(data)):
        for column in (group, value):
            if column not in row:
                raise ValueError(f"analyze: row {i}: no column {column!r} "
                                 f"(columns: {', '.join(map(str, row))})")
        v = row[value]
        try:
            number = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"analyze: row {i}: {value} = {v!r} is not a number") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise ValueError(f"analyze: row {i}: {value} = {v!r} is not a finite number")
        groups.setdefault(str(row[group]), []).append(number)
    return json.loads(_joulebench.analyze_groups(list(groups.items()), value, baseline,
                                                 float(alpha), p_adjust, int(resamples),
                                                 int(seed)))


def analyze_store(path: str, metric: str = "energy_j", by: Optional[str] = None,
                  baseline: Optional[str] = None, alpha: float = 0.05,
                  p_adjust: str = "bonferroni", resamples: int = 10000,
                  seed: int = 20240521) -> Dict[str, Any]:
    """``joulebench analyze DB --json``'s document: by one of environment, workload, gpu_cap,
    cpu_cap (default: what the experiment varies)."""
    return json.loads(_joulebench.analyze_store(os.fspath(path), metric, by, baseline,
                                                float(alpha), p_adjust, int(resamples),
                                                int(seed)))
