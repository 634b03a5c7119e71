#!/usr/bin/env python3
"""The cost of one Python window (begin + end) and the monitor thread's CPU share, on the fakes
the Python tests use (python/tests/conftest.py): the fake NVML library (one GPU) and a fake
powercap package. BENCHMARKS.md, "Python windows".

Usage: PYTHONPATH=build/python JOULEBENCH_TEST_FAKE_NVML=build/tests/libnvidia-ml.so.1 \\
       python3 bench/python_windows.py [WINDOWS]
"""

import os
import pathlib
import statistics
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "python" / "tests"))
from conftest import Fakes  # noqa: E402

import joulebench  # noqa: E402


def main() -> None:
    windows = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    with tempfile.TemporaryDirectory() as tmp:
        fakes = Fakes(pathlib.Path(tmp))
        fakes.powercap.freeze()  # reading a still counter costs the same, and takes no GIL
        os.environ.update(fakes.env)
        for gpus, label in (("none", "powercap package only"), ([0], "1 GPU (fake NVML) + package")):
            m = joulebench.Monitor(interval_ms=100, gpus=gpus)
            costs = []
            cpu0 = time.process_time()
            for _ in range(windows):
                t0 = time.perf_counter()
                m.begin("w")
                m.end("w")
                costs.append(time.perf_counter() - t0)
            cpu = (time.process_time() - cpu0) / windows
            costs.sort()
            print(f"{label}: window begin+end median {statistics.median(costs) * 1e6:.0f} us, "
                  f"p99 {costs[int(0.99 * len(costs))] * 1e6:.0f} us, CPU {cpu * 1e6:.0f} us "
                  f"({windows} windows)")
            with m.window("idle") as w:
                time.sleep(5.0)
            print(f"{label}: monitor thread at 100 ms over 5 s: {w.monitor_cpu_s * 1e3:.2f} ms "
                  f"CPU = {w.monitor_overhead_pct:.3f}% of one core ({w.polls} polls)")
            m.close()
        fakes.powercap.close()


if __name__ == "__main__":
    main()
