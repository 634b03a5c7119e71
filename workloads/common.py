"""Shared plumbing of the reference workloads: arguments, device choice, timing and the JSON line.

Every workload script follows the same contract (the schema is in workloads/README.md):

- standard output carries exactly one line, the result as a JSON object, written last;
  progress, warnings and anything a library prints go to standard error (file descriptor 1 is
  pointed at standard error while the workload runs, so even C++ code inside torch that writes
  to fd 1 cannot corrupt the line);
- exit status 0 on success, 2 for bad usage (argparse), 1 for any other error, printed as
  ``error: <workload>: <action> <object>: <cause>`` plus ``hint: ...`` where one helps
  (the same shape as joulebench's own messages);
- torch is imported after the arguments are checked, so a bad option fails in milliseconds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import re
import sys
import time
import traceback
from typing import Any, Callable, Dict, Iterator, List, Optional

SCHEMA_VERSION = 1

# Wall-clock origin of the whole workload: taken when the script imports this module, before torch
# is imported, so `total_s` includes the (often large) import time.
_START = time.monotonic()

_DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:[0-9]+)?)$")


class WorkloadError(Exception):
    """An error worth a one-line message (and a hint) instead of a traceback."""

    def __init__(self, message: str, hint: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


# ---------------------------------------------------------------------------------------------
# Argument parsing
# ---------------------------------------------------------------------------------------------

def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} must not be negative")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0.0:
        raise argparse.ArgumentTypeError(f"{text} must be a finite number above 0")
    return value


def device_spec(text: str) -> str:
    """argparse type: auto, cpu, cuda or cuda:N (checked against the hardware later)."""
    if not _DEVICE_PATTERN.match(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not one of auto, cpu, cuda, cuda:N")
    return text


def make_parser(workload: str, description: str) -> argparse.ArgumentParser:
    """A parser with the options every workload shares: --device, --seed, --threads."""
    parser = argparse.ArgumentParser(
        prog=f"{workload}.py",
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Prints one JSON line on standard output (schema: workloads/README.md); "
               "progress goes to standard error.")
    parser.add_argument("--device", type=device_spec, default="auto",
                        help="auto (CUDA when available, else CPU), cpu, cuda or cuda:N "
                             "(default: auto)")
    parser.add_argument("--seed", type=non_negative_int, default=0,
                        help="seed of torch's generators for weights and inputs (default: 0)")
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="torch intra-op CPU threads (default: torch's own choice, "
                             "which follows OMP_NUM_THREADS)")
    return parser


def add_inference_mode_flag(parser: argparse.ArgumentParser) -> None:
    """--no-inference-mode: run the forward passes with autograd enabled, as plain scripts do."""
    parser.add_argument("--no-inference-mode", dest="inference_mode", action="store_false",
                        help="do not wrap inference in torch.inference_mode(): autograd stays "
                             "enabled, as in the TU Delft study's script")


# ---------------------------------------------------------------------------------------------
# torch, device, threads
# ---------------------------------------------------------------------------------------------

def import_torch() -> Any:
    """Import torch, or raise WorkloadError saying how to install it."""
    try:
        import torch  # pylint: disable=import-outside-toplevel
    except ImportError as error:
        raise WorkloadError(
            f"import torch: {error}",
            hint="install PyTorch, e.g. `apt-get install python3-torch python3-torchvision` "
                 "on Debian 12, and run the workload with that interpreter (/usr/bin/python3)"
        ) from None
    return torch


def import_torchvision() -> Any:
    """Import torchvision, or raise WorkloadError saying how to install it."""
    try:
        import torchvision  # pylint: disable=import-outside-toplevel
    except ImportError as error:
        raise WorkloadError(
            f"import torchvision: {error}",
            hint="install torchvision, e.g. `apt-get install python3-torchvision` on Debian 12"
        ) from None
    return torchvision


def select_device(torch: Any, spec: str) -> Any:
    """Resolve --device into a torch.device.

    Raises WorkloadError when CUDA is asked for but absent, or the GPU index does not exist.
    """
    if spec == "cpu":
        return torch.device("cpu")
    cuda_available = torch.cuda.is_available()
    if spec == "auto":
        return torch.device("cuda:0" if cuda_available else "cpu")
    if not cuda_available:
        built = (f"torch {torch.__version__} is built for CUDA {torch.version.cuda}"
                 if torch.version.cuda else f"torch {torch.__version__} is built without CUDA")
        raise WorkloadError(
            f"select device {spec}: CUDA is not available ({built}"
            f"{', but no usable GPU or driver was found' if torch.version.cuda else ''})",
            hint="use --device cpu, or install a CUDA build of PyTorch and the NVIDIA driver")
    index = int(spec.split(":", 1)[1]) if ":" in spec else 0
    count = torch.cuda.device_count()
    if index >= count:
        raise WorkloadError(
            f"select device {spec}: no such GPU (CUDA sees {count} GPU{'s' if count != 1 else ''}, "
            f"indices 0 to {count - 1})",
            hint="CUDA_VISIBLE_DEVICES renumbers GPUs from 0")
    return torch.device(f"cuda:{index}")


def device_name(torch: Any, device: Any) -> str:
    """Human-readable name: the GPU's name, or the CPU model from /proc/cpuinfo."""
    if device.type == "cuda":
        return str(torch.cuda.get_device_name(device))
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def loaded_blas_libraries() -> List[str]:
    """Real paths of the BLAS/LAPACK/MKL libraries mapped into this process (Linux; else empty).

    Debian's torch calls BLAS through libblas.so.3, which update-alternatives points at the
    reference BLAS, OpenBLAS, BLIS or MKL: the same script can differ several-fold in time and
    energy between them, so the JSON line names the one that ran.
    """
    found = set()
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                fields = line.split(None, 5)
                if len(fields) < 6:
                    continue
                path = fields[5].strip()
                name = os.path.basename(path)
                if re.search(r"blas|lapack|mkl|blis", name):
                    found.add(os.path.realpath(path))
    except OSError:
        return []
    return sorted(found)


def configure(torch: Any, args: argparse.Namespace) -> None:
    """Apply --threads and --seed (CPU and every CUDA device)."""
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)  # seeds CUDA devices too


def synchronize(torch: Any, device: Any) -> None:
    """Wait for queued GPU work so that a phase's time includes it (no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def grad_context(torch: Any, inference_mode: bool) -> Any:
    """torch.inference_mode() when asked, else a context that changes nothing."""
    return torch.inference_mode() if inference_mode else contextlib.nullcontext()


# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------

class Phases:
    """Wall-clock seconds per named phase (time.monotonic), GPU work included via synchronize."""

    def __init__(self, torch: Any = None, device: Any = None) -> None:
        self._torch = torch
        self._device = device
        self.seconds: Dict[str, float] = {}

    def bind(self, torch: Any, device: Any) -> None:
        """Synchronize with this device at the end of later phases."""
        self._torch = torch
        self._device = device

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time the body and add it to `name` (a phase entered twice accumulates).

        Under joulebench the phase is also marked (README "Markers") so that it gets its own
        time and energy: the "run" phase as `measured`, the others by their name."""
        if self._torch is not None and self._device is not None:
            synchronize(self._torch, self._device)
        marked = MARK_NAMES.get(name, name)
        mark("begin", marked)
        start = time.monotonic()
        try:
            yield
        finally:
            if self._torch is not None and self._device is not None:
                synchronize(self._torch, self._device)
            self.seconds[name] = self.seconds.get(name, 0.0) + (time.monotonic() - start)
            mark("end", marked)

    def as_dict(self, names: List[str]) -> Dict[str, float]:
        """The phases in this order; a phase that never ran reports 0."""
        return {f"{name}_s": round(self.seconds.get(name, 0.0), 6) for name in names}


# The name each phase is marked with for joulebench.
MARK_NAMES = {"run": "measured"}


def mark(verb: str, name: str) -> None:
    """Writes `begin NAME` or `end NAME` to $JOULEBENCH_MARKS when joulebench set it (standard
    output carries only the result line). Never blocks or fails the workload: a FIFO nobody reads
    any more is skipped (O_NONBLOCK gives ENXIO)."""
    path = os.environ.get("JOULEBENCH_MARKS")
    if not path:
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK)
    except OSError:
        return
    try:
        os.write(fd, f"{verb} {name}\n".encode("ascii"))
    except OSError:
        pass
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------

def log(workload: str, message: str) -> None:
    """A progress line on standard error."""
    print(f"{workload}: {message}", file=sys.stderr, flush=True)


def base_result(workload: str, torch: Any, device: Any, args: argparse.Namespace) -> Dict[str, Any]:
    """The fields every workload reports, in schema order; the caller fills in the rest."""
    # Only when the workload used it: importing it here would cost time outside every phase.
    torchvision = sys.modules.get("torchvision")
    torchvision_version = str(torchvision.__version__) if torchvision is not None else None
    return {
        "schema_version": SCHEMA_VERSION,
        "workload": workload,
        "item": None,
        "items": None,
        "warmup_items": None,
        "batch_size": None,
        "device": str(device),
        "device_name": device_name(torch, device),
        "dtype": "float32",
        "torch": str(torch.__version__),
        "torchvision": torchvision_version,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "blas": loaded_blas_libraries(),
        "seed": args.seed,
    }


def finish_result(result: Dict[str, Any], phases: Phases) -> Dict[str, Any]:
    """Add phases, total_s and items_per_s; check the fields every consumer relies on."""
    for key in ("item", "items", "warmup_items", "batch_size"):
        if result.get(key) is None:
            raise AssertionError(f"internal: result field {key} not set")
    result["phases"] = phases.as_dict(["import", "load", "warmup", "run"])
    result["total_s"] = round(time.monotonic() - _START, 6)
    run_s = phases.seconds.get("run", 0.0)
    result["items_per_s"] = round(result["items"] / run_s, 6) if run_s > 0.0 else None
    return result


class _StdoutGuard:
    """Points fd 1 (and sys.stdout) at standard error; keeps the real stdout for the JSON line."""

    def __init__(self) -> None:
        sys.stdout.flush()
        self._saved_fd = os.dup(1)
        os.dup2(2, 1)

    def write_line(self, text: str) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        data = (text + "\n").encode("utf-8")
        while data:
            written = os.write(self._saved_fd, data)
            data = data[written:]

    def restore(self) -> None:
        sys.stdout.flush()
        os.dup2(self._saved_fd, 1)
        os.close(self._saved_fd)


def main(workload: str, parser: argparse.ArgumentParser,
         body: Callable[[argparse.Namespace, Phases], Dict[str, Any]],
         validate: Optional[Callable[[argparse.Namespace], Optional[str]]] = None) -> int:
    """Parse, run `body(args, phases)` with stdout guarded, print its result as one JSON line.

    `validate` returns an error message for argument combinations argparse cannot check alone
    (reported through parser.error, exit status 2). Returns the process exit status.
    """
    args = parser.parse_args()
    if validate is not None:
        problem = validate(args)
        if problem:
            parser.error(problem)
    guard = _StdoutGuard()
    try:
        phases = Phases()
        result = body(args, phases)
        line = json.dumps(result, allow_nan=False, separators=(",", ":"))
        guard.write_line(line)
        return 0
    except WorkloadError as error:
        print(f"error: {workload}: {error.message}", file=sys.stderr)
        if error.hint:
            print(f"hint: {error.hint}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"error: {workload}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # pylint: disable=broad-except
        # Anything else (CUDA out of memory, a torch bug): keep the traceback for the user, but end
        # with the same one-line shape as every other error.
        traceback.print_exc()
        print(f"error: {workload}: run: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    finally:
        guard.restore()


def import_phase(phases: Phases, need_torchvision: bool) -> Any:
    """Import torch (and torchvision) inside the `import` phase; return torch."""
    with phases.phase("import"):
        torch = import_torch()
        if need_torchvision:
            import_torchvision()
    return torch


def scaled_count(count: int, scale: float) -> int:
    """count x scale rounded up, at least 1 (for --scale)."""
    return max(1, math.ceil(count * scale - 1e-9))
