#!/usr/bin/env python3
"""Turn the raw files of scripts/gpu_validation.sh into DIR/gpu.md.

    python3 scripts/gpu_validation_report.py DIR [--output FILE]

Python 3.7+ standard library only: the GPU machine the kit runs on may have no numpy. Reads
DIR/kit.tsv, DIR/steps.tsv, DIR/machine/*, DIR/nvml_cost.json and DIR/{matmul,resnet50,bert}/*;
every file is optional except steps.tsv, and whatever is missing is said in the document, never
invented. Exit status 0 when gpu.md was written, 1 otherwise (an `error:` line says why).

The nvidia-smi energy is the trapezoid of its power samples (piecewise-linear power between
samples) clipped to the measured window [started_at, started_at + wall_s] of `joulebench measure`
(Unix seconds); nvidia-smi's timestamps are written in UTC by the kit (TZ=UTC) so that the two time
bases meet wherever the report is made.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import math
import os
import statistics
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

WORKLOAD_STEPS = (("resnet50", "ResNet-50 inference (workloads/resnet50_infer.py)"),
                  ("bert", "BERT-base inference (workloads/bert_infer.py)"))
SMI_INTERVAL_S = 0.1  # the kit samples nvidia-smi with -lms 100


class ReportError(Exception):
    """A raw file that exists but cannot be used: the message names it and the problem."""


# ---------------------------------------------------------------------------------------------
# Reading the raw files
# ---------------------------------------------------------------------------------------------

def read_tsv(path: str) -> List[List[str]]:
    with open(path, encoding="utf-8", errors="replace") as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


def load_json(path: str) -> Optional[Any]:
    """The document, None when the file is absent; ReportError naming the file when malformed."""
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as error:
        raise ReportError(f"read {path}: {error.strerror}") from None
    if not text.strip():
        return None  # e.g. a workload that printed no result line
    # A workload's stdout holds one JSON line; tolerate nothing else.
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ReportError(f"parse {path}: line {error.lineno} column {error.colno}: {error.msg}") from None


def parse_smi_time(text: str) -> float:
    """nvidia-smi's "2024/01/15 10:23:45.123" (written in UTC by the kit) as Unix seconds."""
    stamp = datetime.datetime.strptime(text.strip(), "%Y/%m/%d %H:%M:%S.%f")
    return stamp.replace(tzinfo=datetime.timezone.utc).timestamp()


def parse_smi_value(text: str) -> Optional[float]:
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        return None  # "[N/A]", "[Not Supported]", "[Unknown Error]"
    return value if math.isfinite(value) else None


def read_smi_samples(path: str, fields: Sequence[str]) -> Tuple[Dict[int, Dict[str, List[Tuple[float, float]]]], int]:
    """{gpu index: {field: [(unix s, W), ...]}} from `nvidia-smi --format=csv,noheader,nounits`,
    and how many lines were unreadable (counted, never fatal: nvidia-smi killed mid-line)."""
    out: Dict[int, Dict[str, List[Tuple[float, float]]]] = {}
    bad = 0
    power_fields = [f for f in fields if f.startswith("power.draw")]
    with open(path, encoding="utf-8", errors="replace") as f:
        for row in csv.reader(f):
            if not row or not "".join(row).strip():
                continue
            if len(row) != len(fields):
                bad += 1
                continue
            cells = dict(zip(fields, row))
            try:
                t = parse_smi_time(cells["timestamp"])
                index = int(cells["index"].strip())
            except (ValueError, KeyError):
                bad += 1
                continue
            for field in power_fields:
                value = parse_smi_value(cells[field])
                if value is not None:
                    out.setdefault(index, {}).setdefault(field, []).append((t, value))
    for per_field in out.values():
        for samples in per_field.values():
            samples.sort()
    return out, bad


# ---------------------------------------------------------------------------------------------
# Arithmetic
# ---------------------------------------------------------------------------------------------

def interpolate(samples: Sequence[Tuple[float, float]], t: float) -> float:
    for (t0, p0), (t1, p1) in zip(samples, samples[1:]):
        if t0 <= t <= t1:
            return p0 if t1 == t0 else p0 + (p1 - p0) * (t - t0) / (t1 - t0)
    raise ValueError("time outside the samples")


def clipped_trapezoid(samples: Sequence[Tuple[float, float]], start: float, end: float) -> Dict[str, Any]:
    """Energy (J) of piecewise-linear power over [start, end] ∩ [first sample, last sample].

    Returns joules over the covered part, the covered seconds, the samples inside the window and
    the mean power over the covered part (None when nothing is covered).
    """
    inside = sum(1 for t, _ in samples if start <= t <= end)
    if len(samples) < 2:
        return {"energy_j": None, "covered_s": 0.0, "samples": inside, "mean_w": None}
    lo = max(start, samples[0][0])
    hi = min(end, samples[-1][0])
    if hi <= lo:
        return {"energy_j": None, "covered_s": 0.0, "samples": inside, "mean_w": None}
    points = [(lo, interpolate(samples, lo))]
    points += [(t, p) for t, p in samples if lo < t < hi]
    points.append((hi, interpolate(samples, hi)))
    energy = sum(0.5 * (p0 + p1) * (t1 - t0) for (t0, p0), (t1, p1) in zip(points, points[1:]))
    return {"energy_j": energy, "covered_s": hi - lo, "samples": inside, "mean_w": energy / (hi - lo)}


def pct_diff(value: Optional[float], reference: Optional[float]) -> Optional[float]:
    if value is None or reference is None or reference == 0:
        return None
    return (value - reference) / reference * 100.0


def median_run_length(values: Sequence[float]) -> Optional[float]:
    """Median length of runs of identical consecutive values (how long a reading stays put);
    None with fewer than two values or when the value never changed (no run is complete)."""
    if len(values) < 2 or len(set(values)) == 1:
        return None
    runs, current = [], 1
    for previous, value in zip(values, values[1:]):
        if value == previous:
            current += 1
        else:
            runs.append(current)
            current = 1
    runs.append(current)
    # The first and last runs are cut by the window; use them only when nothing else exists.
    inner = runs[1:-1] if len(runs) > 2 else runs
    return float(statistics.median(inner))


# ---------------------------------------------------------------------------------------------
# Formatting
# ---------------------------------------------------------------------------------------------

def fmt(value: Optional[float], digits: int = 2, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:,.{digits}f}{unit}".replace(",", " ")


def fmt_pct(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:+.2f} %"


def fmt_ns(value: Optional[float]) -> str:
    if value is None:
        return "n/a"
    if value >= 1e6:
        return f"{value / 1e6:.2f} ms"
    if value >= 1e3:
        return f"{value / 1e3:.2f} µs"
    return f"{value:.0f} ns"


def cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> List[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return lines + [""]


# ---------------------------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------------------------

class Report:
    def __init__(self, folder: str) -> None:
        self.dir = folder
        steps_path = os.path.join(folder, "steps.tsv")
        if not os.path.isfile(steps_path):
            raise ReportError(f"read {steps_path}: no such file (is {folder} a folder written by "
                              f"scripts/gpu_validation.sh?)")
        self.steps: Dict[str, Tuple[str, str]] = {}
        for number, row in enumerate(read_tsv(steps_path), start=1):
            if len(row) < 2:
                raise ReportError(f"parse {steps_path}: line {number}: expected step, status, reason")
            self.steps[row[0]] = (row[1], row[2] if len(row) > 2 else "")
        kit_path = os.path.join(folder, "kit.tsv")
        self.kit = {row[0]: (row[1] if len(row) > 1 else "")
                    for row in (read_tsv(kit_path) if os.path.isfile(kit_path) else [])}
        self.sensors = load_json(os.path.join(folder, "machine", "sensors.json"))
        self.torch = load_json(os.path.join(folder, "machine", "torch.json"))
        self.cost = load_json(os.path.join(folder, "nvml_cost.json"))
        self.lines: List[str] = []
        # The computed figures, also written as DIR/summary.json (for tests and other tools).
        self.summary: Dict[str, Any] = {"steps": {k: {"status": v[0], "reason": v[1]}
                                                  for k, v in self.steps.items()},
                                        "comparison": [], "inference": []}

    def path(self, *parts: str) -> str:
        return os.path.join(self.dir, *parts)

    def step(self, name: str) -> Tuple[str, str]:
        return self.steps.get(name, ("not run", "the kit did not reach this step"))

    def skipped_line(self, name: str, what: str) -> None:
        status, reason = self.step(name)
        self.lines += [f"**{what}: {status}.** {reason}".rstrip(), ""]

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)

    # --- header and steps ---------------------------------------------------------------------
    def header(self) -> None:
        k = self.kit
        self.add("# GPU validation", "",
                 f"Measured by `scripts/gpu_validation.sh` on **{k.get('hostname', 'unknown host')}** "
                 f"({k.get('started_utc', 'unknown date')}, joulebench commit "
                 f"`{k.get('git_commit', 'unknown')}`). Every number below comes from the raw "
                 f"files beside this document; nothing was set on the GPU (read-only: no power "
                 f"limit, clock, persistence-mode or MIG change, no reset).", "")
        self.add("## Steps", "")
        self.add(*table(["step", "status", "reason"],
                        [[name, status, reason or ""] for name, (status, reason) in self.steps.items()]))

    # --- machine ------------------------------------------------------------------------------
    def machine(self) -> None:
        k = self.kit
        self.add("## Machine", "")
        version_path = self.path("machine", "joulebench-version.txt")
        version = open(version_path, encoding="utf-8").read().strip() if os.path.isfile(version_path) else "unknown"
        rows = [["joulebench", version], ["kernel", k.get("kernel", "")],
                ["CPU", f"{k.get('cpu', '')} ({k.get('cpus', '?')} logical CPUs)"]]
        if self.cost:
            rows.append(["NVML library", self.cost.get("library")])
            rows.append(["driver", self.cost.get("driver_version") or "unknown"])
        if self.torch:
            t = self.torch
            rows.append(["Python / torch", f"{t.get('python')} / {t.get('torch') or 'not importable'}"
                                            f" (CUDA build {t.get('cuda_build') or 'none'}, "
                                            f"available: {'yes' if t.get('cuda_available') else 'no'})"])
            if t.get("devices"):
                rows.append(["CUDA devices", ", ".join(t["devices"])])
        self.add(*table(["", ""], rows))
        smi_csv = self.path("machine", "nvidia-smi.csv")
        if os.path.isfile(smi_csv):
            with open(smi_csv, encoding="utf-8", errors="replace") as f:
                rows = [r for r in csv.reader(f) if r]
            if rows:
                self.add("`nvidia-smi --query-gpu` (read-only):", "")
                self.add(*table([c.strip() for c in rows[0]], [[c.strip() for c in r] for r in rows[1:]]))
        else:
            self.skipped_line("nvidia-smi", "nvidia-smi")

    # --- method per GPU -----------------------------------------------------------------------
    def methods(self) -> None:
        self.add("## Method per GPU (`joulebench sensors -v --json`)", "")
        if not self.sensors:
            self.skipped_line("sensors", "joulebench sensors")
            return
        gpus = [s for s in self.sensors.get("sensors", []) if s.get("kind") == "gpu"]
        rows = []
        for s in gpus:
            limit = next((l for l in s.get("limits") or []), None)
            limit_text = "n/a"
            if limit:
                limit_text = (f"{fmt(limit.get('current_w'), 0)} W (enforced {fmt(limit.get('enforced_w'), 0)} W, "
                              f"range {fmt(limit.get('min_w'), 0)}..{fmt(limit.get('max_w'), 0)} W, "
                              f"default {fmt(limit.get('default_w'), 0)} W)")
            rows.append([s.get("id"), s.get("name"), s.get("pci_bus_id") or "n/a", s.get("method"),
                         fmt(s.get("update_period_ms"), 0, " ms"), limit_text, "; ".join(s.get("notes") or [])])
        if rows:
            self.add(*table(["id", "name", "PCI bus id", "method", "update period (assumed)", "power limit",
                             "notes"], rows))
        else:
            self.add("No GPU sensor was found.", "")
        for b in self.sensors.get("backends", []):
            if b.get("backend") == "nvml" and (b.get("skipped") or b.get("notes")):
                for reason in b.get("skipped") or []:
                    self.add(f"- nvml skipped: {reason}")
                for note in b.get("notes") or []:
                    self.add(f"- nvml: {note}")
                self.add("")
        self.add("`counter` is `nvmlDeviceGetTotalEnergyConsumption` (mJ) differenced; `integrated` is "
                 "`nvmlDeviceGetPowerUsage` integrated with the trapezoid rule (docs/nvml.md). The update "
                 "period is joulebench's assumption (100 ms); the measurements below show what this "
                 "GPU does.", "")

    # --- NVML call costs ----------------------------------------------------------------------
    def call_costs(self) -> None:
        self.add("## Cost of each NVML call (`joulebench_nvml_cost`)", "")
        if not self.cost:
            self.skipped_line("nvml_cost", "NVML call costs")
            return
        c = self.cost
        self.add(f"Each call timed on its own with `steady_clock` ({c.get('calls_per_function')} calls per "
                 f"function at most, {c.get('max_seconds_per_function')} s budget each, after "
                 f"{c.get('warmup_calls')} untimed calls); reading the clock costs about "
                 f"{fmt_ns(c.get('clock_overhead_ns'))}, included in every figure. Wall time, which "
                 f"includes any time the driver blocks. `not_supported`: the GPU answers "
                 f"NOT_SUPPORTED and joulebench drops that value; `missing`: the library lacks the "
                 f"symbol.", "")
        if not c.get("gpus"):
            self.add("NVML reported no GPU.", "")
        for gpu in c.get("gpus", []):
            self.add(f"### GPU {gpu.get('index')}: {gpu.get('name')} ({gpu.get('pci_bus_id') or 'no PCI id'}, "
                     f"method {gpu.get('method') or 'none'})", "")
            rows = []
            for call in gpu.get("calls", []):
                status = call.get("status")
                if status in ("ok", "errors"):
                    rows.append([f"`{call.get('call')}`", call.get("used_by"), status, call.get("n"),
                                 fmt_ns(call.get("median_ns")), fmt_ns(call.get("p99_ns")),
                                 fmt_ns(call.get("max_ns")), fmt_ns(call.get("first_call_ns")),
                                 call.get("detail", "")])
                else:
                    rows.append([f"`{call.get('call')}`", call.get("used_by"), status, 0, "", "", "", "",
                                 call.get("detail", "")])
            self.add(*table(["call", "used by", "status", "n", "median", "p99", "max", "first call", "detail"],
                            rows))
            by_name = {call.get("call"): call for call in gpu.get("calls", [])}
            sample = by_name.get("NvmlSensor::sample()", {})
            telemetry = by_name.get("NvmlSensor::telemetry()", {})
            if sample.get("median_ns") is not None:
                s_ns = sample["median_ns"]
                t_ns = telemetry.get("median_ns") or 0.0
                parts = []
                for hz in (10, 100, 1000):
                    # One sample() per tick; one telemetry() per trace row (the tick at --interval
                    # 1000/hz ms is also a trace row).
                    share = (s_ns + t_ns) * hz / 1e9 * 100.0
                    parts.append(f"{hz} Hz: {share:.4f} %")
                self.add("Time spent in NVML per second of `measure` with every tick a trace row "
                         "(one `sample()` and one `telemetry()` per tick, medians): "
                         + ", ".join(parts) + " of one core's wall time.", "")

    # --- counter vs integrated vs nvidia-smi --------------------------------------------------
    def comparison(self) -> None:
        self.add("## Counter vs integrated power vs nvidia-smi (matrix-multiply load)", "")
        m = load_json(self.path("matmul", "m.json"))
        if not m:
            self.skipped_line("matmul", "Matrix-multiply run")
            return
        load_path = self.path("matmul", "load.txt")
        load = open(load_path, encoding="utf-8").read().strip() if os.path.isfile(load_path) else "unknown"
        workload = None
        try:
            workload = load_json(self.path("matmul", "workload.json"))
        except ReportError as error:
            self.add(f"(workload line unreadable: {error})", "")
        command_path = self.path("matmul", "command.txt")
        if os.path.isfile(command_path):
            self.add("```", open(command_path, encoding="utf-8").read().strip(), "```", "")
        if load.startswith("cuda"):
            self.add(f"The load ran on {load}; the other GPUs, if any, show what an idle GPU reads.", "")
        else:
            self.add(f"**The load did not run on the GPU** ({load}): the figures below compare the "
                     f"three readings on an idle GPU only.", "")
        if isinstance(workload, dict) and workload.get("workload") == "matmul_load":
            params = workload.get("params", {})
            self.add(f"`matmul_load.py`: {workload.get('device')} ({workload.get('device_name')}), "
                     f"{params.get('size')} x {params.get('size')} {params.get('dtype')}, "
                     f"{workload.get('iterations')} products in {fmt(workload.get('wall_s'), 2)} s, "
                     f"{fmt(workload.get('tflops_per_s'), 3)} TFLOP/s; process total "
                     f"{fmt(workload.get('total_s'), 2)} s.", "")
        start = float(m.get("started_at", 0.0))
        wall = float(m.get("wall_s", 0.0))
        self.add(f"Measured window: {fmt(wall, 3)} s from Unix time {start:.3f}; trace interval "
                 f"{m.get('interval_ms')} ms, {m.get('samples')} trace rows; idle baseline "
                 f"{fmt((m.get('idle') or {}).get('duration_s'), 1)} s before it.", "")

        smi, smi_fields, smi_bad, smi_note = self.smi_samples()
        gpus = {g.get("id"): g for g in m.get("gpus", [])}
        rows = []
        state_rows = []
        notes: List[str] = []
        for d in m.get("domains", []):
            if d.get("kind") != "gpu":
                continue
            energy = d.get("energy_j")
            integrated = d.get("cross_check_energy_j")
            entry: Dict[str, Any] = {
                "gpu": d.get("id"), "method": d.get("method"), "counter_j": energy,
                "avg_power_w": d.get("avg_power_w"), "integrated_j": integrated,
                "disagreement_pct": d.get("disagreement_pct"), "idle_power_w": d.get("idle_power_w"),
                "nvidia_smi": {}}
            row = [d.get("id"), d.get("method"), fmt(energy, 1), fmt(d.get("avg_power_w"), 1),
                   fmt(integrated, 1), fmt_pct(d.get("disagreement_pct"))]
            for field in smi_fields:
                samples = smi.get(int(d.get("index", -1)), {}).get(field, [])
                clip = clipped_trapezoid(samples, start, start + wall)
                smi_energy = None
                if clip["mean_w"] is not None:
                    # Where the samples do not cover the whole window, the mean power over the
                    # covered part stands for the window (the coverage column says how much).
                    smi_energy = clip["mean_w"] * wall
                coverage = clip["covered_s"] / wall * 100.0 if wall > 0 else 0.0
                diff = pct_diff(smi_energy, energy)
                entry["nvidia_smi"][field] = {"energy_j": smi_energy, "mean_power_w": clip["mean_w"],
                                              "diff_vs_counter_pct": diff,
                                              "samples_in_window": clip["samples"],
                                              "coverage_pct": coverage}
                row += [fmt(smi_energy, 1), fmt_pct(diff), f"{clip['samples']} ({coverage:.0f} %)"]
                if samples and clip["samples"] == 0:
                    notes.append(f"{d.get('id')}: no `{field}` sample falls inside the window "
                                 f"(nvidia-smi's clock or time zone does not match?)")
            rows.append(row)
            self.summary["comparison"].append(entry)
            g = gpus.get(d.get("id"), {})
            state_rows.append([d.get("id"), fmt(d.get("idle_power_w"), 1),
                               fmt(g.get("mean_utilisation_pct"), 0, " %"),
                               fmt(g.get("max_utilisation_pct"), 0, " %"),
                               fmt(g.get("max_temperature_c"), 0, " °C"), fmt(g.get("mean_sm_clock_mhz"), 0),
                               ", ".join(g.get("throttle_reasons") or []) or "none",
                               fmt(g.get("enforced_limit_w"), 0, " W")])
        header = ["GPU", "method", "counter J", "avg W", "integrated J", "counter vs integrated"]
        for field in smi_fields:
            header += [f"nvidia-smi {field} J", f"{field} vs counter", "samples in window (coverage)"]
        if rows:
            self.add(*table(header, rows))
            self.add("GPU state over the run (joulebench's telemetry) and idle power before it:", "")
            self.add(*table(["GPU", "idle W", "mean util", "max util", "max temp", "mean SM MHz",
                             "throttle reasons", "enforced limit"], state_rows))
        else:
            self.add("No GPU domain was measured.", "")
        self.add("- **counter J**: `energy_j` of the domain, the difference of the energy counter "
                 "(method `counter`) over the window; **avg W** is it divided by the window.",
                 "- **integrated J**: joulebench's own trapezoid of `nvmlDeviceGetPowerUsage` over the "
                 "same window (`cross_check_energy_j`, read with every sample, at most every 10 ms); "
                 "**counter vs integrated** is joulebench's `disagreement_pct`, (counter - integrated) / "
                 "integrated, so a positive value means the counter saw more energy.",
                 "- **nvidia-smi J**: the trapezoid of nvidia-smi's samples (every 100 ms) clipped to "
                 "the window; **vs counter** is (nvidia-smi - counter) / counter. `power.draw` is a "
                 "one-second average on drivers that also offer `power.draw.instant`.", "")
        for note in notes + ([smi_note] if smi_note else []):
            self.add(f"- {note}")
        if smi_bad:
            self.add(f"- {smi_bad} nvidia-smi line(s) could not be read and were left out.")
        if notes or smi_note or smi_bad:
            self.add("")
        self.refresh(smi, smi_fields, start, wall)

    def smi_samples(self) -> Tuple[Dict[int, Dict[str, List[Tuple[float, float]]]], List[str], int, str]:
        path = self.path("matmul", "smi.csv")
        if not os.path.isfile(path):
            status, reason = self.step("smi_power")
            return {}, [], 0, f"nvidia-smi power samples: {status}. {reason}".rstrip()
        fields_path = path + ".fields"
        fields = (open(fields_path, encoding="utf-8").read().strip().split(",")
                  if os.path.isfile(fields_path) else ["timestamp", "index", "power.draw"])
        samples, bad = read_smi_samples(path, fields)
        note = "" if samples else "nvidia-smi wrote no usable power sample."
        return samples, [f for f in fields if f.startswith("power.draw")], bad, note

    def refresh(self, smi: Dict[int, Dict[str, List[Tuple[float, float]]]], fields: Sequence[str],
                start: float, wall: float) -> None:
        """How long readings stay unchanged: an indication of the update period."""
        lines = []
        trace = self.path("matmul", "trace.csv")
        if os.path.isfile(trace):
            with open(trace, encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
            energy_cols = [c for c in (rows[0].keys() if rows else []) if c.startswith("gpu") and c.endswith("_energy_j")]
            for col in energy_cols:
                values = [float(r[col]) for r in rows if r.get(col)]
                deltas = [b - a for a, b in zip(values, values[1:])]
                if deltas:
                    unchanged = sum(1 for d in deltas if d == 0.0)
                    lines.append(f"- {col[:-len('_energy_j')]} energy counter: unchanged between "
                                 f"{unchanged} of {len(deltas)} consecutive trace rows "
                                 f"({len(deltas) and unchanged / len(deltas) * 100:.0f} %); a counter "
                                 f"that refreshes every P ms leaves about 1 - interval/P of the rows "
                                 f"unchanged when P exceeds the trace interval.")
        for index in sorted(smi):
            for field in fields:
                values = [p for t, p in smi[index].get(field, []) if start <= t <= start + wall]
                run = median_run_length(values)
                if len(values) >= 2 and run is None:
                    lines.append(f"- GPU {index} nvidia-smi `{field}`: the same value in all "
                                 f"{len(values)} samples of the window (no change seen).")
                elif run is not None:
                    lines.append(f"- GPU {index} nvidia-smi `{field}`: the value stays the same for a "
                                 f"median of {run:g} consecutive samples, i.e. it changes about every "
                                 f"{run * SMI_INTERVAL_S * 1000:.0f} ms (nvidia-smi sampled every "
                                 f"{SMI_INTERVAL_S * 1000:.0f} ms; a run of 1 means at least that often).")
        if lines:
            self.add("### How often the readings change", "", *lines, "")

    # --- energy per inference -----------------------------------------------------------------
    def inference(self) -> None:
        self.add("## Energy per inference", "")
        rows = []
        for name, title in WORKLOAD_STEPS:
            m = load_json(self.path(name, "m.json"))
            if not m:
                status, reason = self.step(name)
                rows.append([title, status, reason] + [""] * 9)
                continue
            try:
                w = load_json(self.path(name, "workload.json"))
            except ReportError as error:
                rows.append([title, "failed", str(error)] + [""] * 9)
                continue
            if not isinstance(w, dict) or not w.get("items"):
                rows.append([title, "failed", "the workload printed no result line (see measure.err)"]
                            + [""] * 9)
                continue
            items = int(w["items"])
            gpu = [d for d in m.get("domains", []) if d.get("kind") == "gpu"]
            gpu_j = sum(d.get("energy_j") or 0.0 for d in gpu)
            gpu_idle_w = sum(d.get("idle_power_w") or 0.0 for d in gpu)
            gpu_net = sum(d.get("net_energy_j") or 0.0 for d in gpu) if gpu else None
            idle = m.get("idle") or {}
            total_net = idle.get("net_energy_j")
            total = m.get("total_energy_j")
            self.summary["inference"].append({
                "workload": name, "items": items, "wall_s": m.get("wall_s"), "gpu_energy_j": gpu_j,
                "gpu_idle_power_w": gpu_idle_w, "gpu_j_per_item": gpu_j / items if gpu else None,
                "gpu_net_j_per_item": gpu_net / items if gpu_net is not None else None,
                "total_j_per_item": total / items if total is not None else None,
                "total_net_j_per_item": total_net / items if total_net is not None else None,
                "total_includes_estimate": m.get("total_includes_estimate")})
            rows.append([
                title, self.steps.get(name, ("ok", ""))[0], f"{w.get('device')} ({w.get('device_name')})",
                f"{items} {w.get('item', 'item')}s", fmt(m.get("wall_s"), 2),
                fmt((w.get("phases") or {}).get("run_s"), 2), fmt(gpu_j, 1), fmt(gpu_idle_w, 1),
                fmt(gpu_j / items, 3) if gpu else "n/a",
                fmt(gpu_net / items, 3) if gpu_net is not None else "n/a",
                fmt(total / items, 3) if total is not None else "n/a",
                fmt(total_net / items, 3) if total_net is not None else "n/a"])
        self.add(*table(["workload", "status", "device", "items", "wall s", "run phase s", "GPU J",
                         "GPU idle W", "GPU J/item", "GPU J/item net of idle", "total J/item",
                         "total J/item net"], rows))
        self.add("Energy per item covers the whole process (importing torch, building the model, "
                 "warm-up and the timed phase), as workloads/README.md explains; **net of idle** "
                 "subtracts the idle power measured just before the run times the run's wall time. "
                 "The total adds the CPU packages (RAPL) when readable, else joulebench's CPU-time "
                 "estimate (see the warnings).", "")
        for name, title in WORKLOAD_STEPS:
            command_path = self.path(name, "command.txt")
            if os.path.isfile(command_path):
                self.add(f"{title}:", "", "```", open(command_path, encoding="utf-8").read().strip(), "```", "")

    # --- warnings and reproduction ------------------------------------------------------------
    def warnings(self) -> None:
        self.add("## Warnings joulebench gave", "")
        any_run = False
        for name, title in (("matmul", "matrix-multiply load"),) + WORKLOAD_STEPS:
            m = load_json(self.path(name, "m.json"))
            if not m:
                continue
            any_run = True
            warnings = m.get("warnings") or []
            self.add(f"{title}: " + ("none" if not warnings else ""))
            for w in warnings:
                self.add(f"- {w}")
            self.add("")
        if not any_run:
            self.add("No run was measured.", "")

    def reproduce(self) -> None:
        k = self.kit
        self.add("## How to reproduce", "",
                 "On a machine with the NVIDIA driver, PyTorch with CUDA and a joulebench build "
                 "(scripts/README.md says which shared libraries the binaries need):", "",
                 "```sh", k.get("command", "scripts/gpu_validation.sh"), "```", "",
                 f"Settings: {k.get('seconds', '?')} s of load, {k.get('idle_s', '?')} s idle baseline, "
                 f"trace interval {k.get('interval_ms', '?')} ms, workloads on GPU {k.get('gpu', '?')}, "
                 f"{k.get('cost_calls', '?')} calls per NVML function, Python `{k.get('python', '?')}`."
                 + (f" NVML library forced with JOULEBENCH_NVML_LIBRARY={k['nvml_library_env']}."
                    if k.get("nvml_library_env") else ""), "",
                 "Raw files: `machine/` (sensors, nvidia-smi, torch), `nvml_cost.json`, and per run "
                 "`m.json` (measure's document), `trace.csv`, `workload.json` (the workload's line), "
                 "`smi.csv` (nvidia-smi samples, UTC), `measure.err`. Rebuild this page with "
                 "`python3 scripts/gpu_validation_report.py DIR`.", "")

    def render(self) -> Tuple[str, Dict[str, Any]]:
        self.header()
        self.machine()
        self.methods()
        self.call_costs()
        self.comparison()
        self.inference()
        self.warnings()
        self.reproduce()
        return "\n".join(self.lines).rstrip() + "\n", self.summary


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("dir", help="folder written by scripts/gpu_validation.sh")
    parser.add_argument("--output", help="where to write the page (default: DIR/gpu.md)")
    args = parser.parse_args(argv)
    output = args.output or os.path.join(args.dir, "gpu.md")
    try:
        text, summary = Report(args.dir).render()
    except ReportError as error:
        print(f"error: gpu_validation_report: {error}", file=sys.stderr)
        return 1
    for path, content in ((output, text),
                          (os.path.join(args.dir, "summary.json"), json.dumps(summary, indent=2) + "\n")):
        temporary = path + ".tmp"
        try:
            with open(temporary, "w", encoding="utf-8") as f:
                f.write(content)
            os.replace(temporary, path)
        except OSError as error:
            print(f"error: gpu_validation_report: write {path}: {error.strerror}", file=sys.stderr)
            return 1
    print(output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
