"""Fixtures of the Python package's tests: fake hardware through the real code paths.

The fake NVML library is the one the C++ tests use (tests/fakes/fake_nvml.cpp, built into the
build folder; CTest passes its path in $JOULEBENCH_TEST_FAKE_NVML), driven by its state file
(docs/nvml.md). The fake powercap tree is laid out as tests/fakes/fake_powercap_builder.hpp
does it, its counter advancing with CLOCK_MONOTONIC at a set power.
"""

import json
import os
import subprocess
import threading
import time

import pytest

import joulebench

GPU_W = 100.0
PACKAGE_W = 40.0
GPU_LIMIT_MW = 400000


class FakePowercap:
    """One package zone (intel-rapl:0) whose energy_uj follows PACKAGE_W from now on."""

    def __init__(self, root, power_w=PACKAGE_W):
        self.root = root
        self.power_w = power_w
        zone = os.path.join(root, "intel-rapl:0")
        os.makedirs(zone)
        os.makedirs(os.path.join(root, "intel-rapl"))
        with open(os.path.join(root, "intel-rapl", "enabled"), "w") as f:
            f.write("1\n")
        for name, text in (("name", "package-0\n"), ("enabled", "1\n"),
                           ("max_energy_range_uj", "262143328850\n")):
            with open(os.path.join(zone, name), "w") as f:
                f.write(text)
        self.fd = os.open(os.path.join(zone, "energy_uj"), os.O_RDWR | os.O_CREAT, 0o444)
        self.t0 = time.monotonic_ns()
        self.stop = threading.Event()
        self.write()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def write(self):
        # Fixed width, written in place as sysfs does: a reader never sees a torn value.
        uj = round(self.power_w * (time.monotonic_ns() - self.t0) / 1000.0)
        os.pwrite(self.fd, b"%020d\n" % (uj % 262143328850), 0)

    def run(self):
        while not self.stop.wait(0.0005):
            self.write()

    def freeze(self):
        """Stops the counter (its writer thread would compete for the GIL in a benchmark)."""
        self.stop.set()
        self.thread.join()

    def close(self):
        self.freeze()
        os.close(self.fd)


def nvml_state(gpus=1):
    return {
        "driver_version": "550.54.15",
        "gpus": [{
            "name": "NVIDIA A100-SXM4-40GB",
            "uuid": f"GPU-fa4e000{i}-0000-4000-8000-000000000000",
            "pci_bus_id": f"00000000:{i + 1}7:00.0",
            "power_mw": int(GPU_W * 1000), "energy_mj": 1000000.0,
            "energy_anchor_ns": time.monotonic_ns(),
            "temperature_c": 45, "sm_clock_mhz": 1410,
            "utilization_gpu": 50, "utilization_memory": 10, "clocks_event_reasons": 0,
            "limits": {"current_mw": GPU_LIMIT_MW, "enforced_mw": GPU_LIMIT_MW,
                       "min_mw": 100000, "max_mw": GPU_LIMIT_MW, "default_mw": GPU_LIMIT_MW},
            "persistence_mode": True,
        } for i in range(gpus)],
        "calls": [],
    }


class Fakes:
    def __init__(self, tmp_path):
        self.dir = tmp_path
        self.state = tmp_path / "nvml.json"
        self.state.write_text(json.dumps(nvml_state()))
        self.state_dir = tmp_path / "state"
        self.state_dir.mkdir()
        (tmp_path / "hwmon").mkdir()
        self.powercap = FakePowercap(str(tmp_path / "powercap"))
        self.env = {
            "JOULEBENCH_NVML_LIBRARY": os.environ["JOULEBENCH_TEST_FAKE_NVML"],
            "JOULEBENCH_FAKE_NVML_STATE": str(self.state),
            "JOULEBENCH_POWERCAP_ROOT": self.powercap.root,
            "JOULEBENCH_HWMON_ROOT": str(tmp_path / "hwmon"),
            "JOULEBENCH_ROCM_SMI_LIBRARY": str(tmp_path / "no-rocm.so"),
            "JOULEBENCH_STATE_DIR": str(self.state_dir),
        }

    def limit_mw(self, gpu=0):
        return json.loads(self.state.read_text())["gpus"][gpu]["limits"]["current_mw"]

    def journal(self):
        return sorted(p.name for p in self.state_dir.rglob("*") if p.is_file()
                      and p.suffix == ".json")

    def joulebench(self, *args, **kwargs):
        """Runs the built joulebench program with the fakes' environment."""
        env = dict(os.environ, **self.env)
        return subprocess.run([joulebench.executable(), *args], env=env, capture_output=True,
                              text=True, timeout=120, **kwargs)


@pytest.fixture
def fakes(tmp_path, monkeypatch):
    if "JOULEBENCH_TEST_FAKE_NVML" not in os.environ:
        pytest.skip("run through CTest (python.package), which names the fake NVML library")
    f = Fakes(tmp_path)
    for k, v in f.env.items():
        monkeypatch.setenv(k, v)
    yield f
    # The shared monitors of window() were probed with this test's fakes.
    with joulebench._monitors_lock:
        for m in joulebench._monitors.values():
            m.close()
        joulebench._monitors.clear()
    f.powercap.close()


def eventually(condition, timeout_s=30.0):
    """Waits until condition() is true (no timing assertion: the deadline only ends a hang)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()
