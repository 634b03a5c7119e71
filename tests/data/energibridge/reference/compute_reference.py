#!/usr/bin/python3
"""Reference values for the EnergiBridge importer, computed independently of joulebench.

Reads every CSV under the TU Delft data set (default ../shared/datasets/tudelft-docker-images/raw
relative to the repository root) with Python's csv module and writes, per file: rows, duration,
unwrapped RAPL energies and wrap counts, EnergiBridge's naive difference, GPU energy (numpy
trapezoid of power over time) and mean GPU utilisation. The unit tests compare joulebench's import
against this output (reference.json), so those numbers do not come from our own code.

Run: /usr/bin/python3 tests/data/energibridge/reference/compute_reference.py [RAW_DIR] > reference.json
"""
import csv
import json
import pathlib
import sys

import numpy as np

WRAP_J = 2.0**32 * 2.0**-14  # 262144 J


def unwrap(values):
    v = np.asarray(values, dtype=float)
    steps = np.diff(v)
    wraps = int(np.sum(steps < -WRAP_J / 2))
    steps = np.where(steps < -WRAP_J / 2, steps + WRAP_J, steps)
    return float(np.sum(steps)), wraps, float(v[-1] - v[0])


def summarise(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    t_ms = np.array([float(r["Time"]) for r in rows])
    out = {"rows": len(rows), "duration_s": float((t_ms[-1] - t_ms[0]) / 1000.0)}
    for key, col in (("package", "PACKAGE_ENERGY (J)"), ("dram", "DRAM_ENERGY (J)"),
                     ("pp0", "PP0_ENERGY (J)")):
        energy, wraps, naive = unwrap([float(r[col]) for r in rows])
        out[key + "_energy_j"] = energy
        out[key + "_wraps"] = wraps
        out["energibridge_" + key + "_energy_j"] = naive
    p_w = np.array([float(r["GPU0_POWER (mWatts)"]) for r in rows]) / 1000.0
    # Time relative to the first row: epoch seconds (~1.7e9) would lose ~1e-7 s per value.
    out["gpu_energy_j"] = float(np.trapz(p_w, (t_ms - t_ms[0]) / 1000.0))
    out["gpu_mean_utilisation"] = float(np.mean([float(r["GPU0_USAGE"]) for r in rows]))
    return out


def main():
    root = pathlib.Path(__file__).resolve().parents[4]
    raw = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else \
        root / ".." / "shared" / "datasets" / "tudelft-docker-images" / "raw"
    files = sorted(raw.glob("*/*.csv"))
    result = {str(p.relative_to(raw)): summarise(p) for p in files}
    json.dump({"wrap_j": WRAP_J, "files": result}, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
