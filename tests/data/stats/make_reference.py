#!/usr/bin/python3
"""Reference values for joulebench's statistics tests, computed with SciPy and NumPy.

Run with Debian's Python (it has scipy 1.10 and numpy; the pyenv python3 first on PATH has no scipy):

    /usr/bin/python3 tests/data/stats/make_reference.py

It writes, next to this script:
  reference.json           synthetic data sets (small n = 3..5, large n >= 1000, ties, unequal sizes,
                           zero variance) and, for each, what SciPy/NumPy compute for every method;
  tudelft_reference.json   the same for the TU Delft per-run tables in
                           ../shared/datasets/tudelft-docker-images/per-run (only when present).
The data themselves are stored in the JSON, so the C++ tests need neither NumPy nor the RNG.

scikit-posthocs is not installed, so Dunn's test is computed here from scipy.stats.rankdata and
scipy.stats.norm with Dunn's (1964) formula and the tie correction; `check_dunn_worked_example()`
reproduces the worked example of scikit-posthocs' posthoc_dunn docstring (x = [[1,2,3,5,1],
[12,31,54], [10,12,6,74,11]], Holm: 0.01764845, 0.04131415, 0.45319956), which that old version
computed without the tie term (its tie count was 0), before the tie-corrected values are used.
"""

import json
import math
import os
import sys

import numpy as np
import scipy
from scipy import stats

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
TUDELFT = os.path.join(SOURCE, "..", "shared", "datasets", "tudelft-docker-images", "per-run")


def num(x):
    """JSON-safe float: NaN/inf become None (null)."""
    x = float(x)
    return x if math.isfinite(x) else None


def tie_sum(values):
    _, t = np.unique(np.asarray(values, dtype=float), return_counts=True)
    return float((t.astype(float) ** 3 - t).sum())


def describe(x):
    x = np.asarray(x, dtype=float)
    return {
        "n": int(x.size),
        "mean": num(np.mean(x)),
        "median": num(np.median(x)),
        "std": num(np.std(x, ddof=1)) if x.size > 1 else None,
        "min": num(np.min(x)),
        "max": num(np.max(x)),
        "q1": num(np.percentile(x, 25)),  # numpy's default method="linear"
        "q3": num(np.percentile(x, 75)),
    }


def shapiro(x):
    with np.errstate(all="ignore"):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = stats.shapiro(x)
    return {"w": num(r.statistic), "p": num(r.pvalue)}


def poly(c, x):
    return sum(ci * x ** i for i, ci in enumerate(c))


def shapiro_float64(x):
    """Royston (1995) W and p in float64, written independently of swilk.f (vectorised NumPy).

    SciPy 1.10 runs swilk.f in single precision (its wrapper takes float32 arrays), which moves p
    by up to ~4e-3 at n = 5000 where W is within 2e-4 of 1. This float64 version is the reference
    for large n; it agrees with SciPy within the issue's tolerances for n <= 1500 (checked below).
    """
    x = np.asarray(x, dtype=float)
    x = np.sort(x - np.median(x))  # centred first, as SciPy does, to keep precision
    n = x.size
    if x[-1] - x[0] < 1e-19:
        return {"w": 1.0, "p": 1.0}
    if n == 3:
        a = np.array([-math.sqrt(0.5), 0.0, math.sqrt(0.5)])
    else:
        m = stats.norm.ppf((np.arange(1, n + 1) - 0.375) / (n + 0.25))
        summ2 = float((m ** 2).sum())
        rsn = 1.0 / math.sqrt(n)
        a1 = poly([0, .221157, -.147981, -2.07119, 4.434685, -2.706056], rsn) + m[-1] / math.sqrt(summ2)
        if n > 5:
            a2 = poly([0, .042981, -.293762, -1.752461, 5.682633, -3.582633], rsn) + m[-2] / math.sqrt(summ2)
            phi = (summ2 - 2 * m[-1] ** 2 - 2 * m[-2] ** 2) / (1 - 2 * a1 ** 2 - 2 * a2 ** 2)
            a = m / math.sqrt(phi)
            a[[0, 1, -2, -1]] = [-a1, -a2, a2, a1]
        else:
            phi = (summ2 - 2 * m[-1] ** 2) / (1 - 2 * a1 ** 2)
            a = m / math.sqrt(phi)
            a[[0, -1]] = [-a1, a1]
    w = min(1.0, float((a @ x) ** 2 / ((x - x.mean()) ** 2).sum()))
    if n == 3:
        p = max(0.0, 6 / math.pi * (math.asin(math.sqrt(w)) - math.asin(math.sqrt(0.75))))
        return {"w": w, "p": p}
    y = math.log1p(-w)
    if n <= 11:
        gamma = poly([-2.273, .459], n)
        if y >= gamma:
            return {"w": w, "p": 1e-19}
        y = -math.log(gamma - y)
        mu = poly([.544, -.39978, .025054, -6.714e-4], n)
        sd = math.exp(poly([1.3822, -.77857, .062767, -.0020322], n))
    else:
        ln = math.log(n)
        mu = poly([-1.5861, -.31082, -.083751, .0038915], ln)
        sd = math.exp(poly([-.4803, -.082676, .0030302], ln))
    return {"w": w, "p": float(stats.norm.sf((y - mu) / sd))}


def dunn_raw(groups):
    """Dunn (1964): z = (mean rank a - mean rank b) / sqrt((N(N+1)/12 - T/(12(N-1))) (1/na + 1/nb))."""
    pooled = np.concatenate([np.asarray(g, dtype=float) for g in groups])
    ranks = stats.rankdata(pooled)
    n = pooled.size
    ts = tie_sum(pooled)
    lens = [len(g) for g in groups]
    offs = np.cumsum([0] + lens)
    mean_rank = [ranks[offs[i]:offs[i + 1]].mean() for i in range(len(groups))]
    var = n * (n + 1) / 12.0 - ts / (12.0 * (n - 1))
    out = []
    for a in range(len(groups)):
        for b in range(a + 1, len(groups)):
            se = math.sqrt(var * (1.0 / lens[a] + 1.0 / lens[b])) if var > 0 else 0.0
            if se == 0.0:
                out.append((a, b, None, None))
                continue
            z = (mean_rank[a] - mean_rank[b]) / se
            out.append((a, b, z, min(1.0, 2.0 * stats.norm.sf(abs(z)))))
    return out, ts


def adjust(p, method):
    p = np.asarray(p, dtype=float)
    m = p.size
    if method == "bonferroni":
        return np.minimum(1.0, p * m)
    if method == "holm":
        order = np.argsort(p, kind="stable")
        adj = np.empty(m)
        adj[order] = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
        return adj
    raise ValueError(method)


def check_dunn_worked_example():
    x = [[1, 2, 3, 5, 1], [12, 31, 54], [10, 12, 6, 74, 11]]
    # Same formula with the tie term forced to 0, as the documented example was computed.
    pooled = np.concatenate([np.asarray(g, dtype=float) for g in x])
    ranks = stats.rankdata(pooled)
    n = pooled.size
    lens = [len(g) for g in x]
    offs = np.cumsum([0] + lens)
    mr = [ranks[offs[i]:offs[i + 1]].mean() for i in range(3)]
    p = []
    for a in range(3):
        for b in range(a + 1, 3):
            z = (mr[a] - mr[b]) / math.sqrt(n * (n + 1) / 12.0 * (1.0 / lens[a] + 1.0 / lens[b]))
            p.append(2 * stats.norm.sf(abs(z)))
    holm = adjust(p, "holm")
    published = [0.01764845, 0.04131415, 0.45319956]
    assert np.allclose(holm, published, atol=5e-9), (holm, published)


def cliffs_delta(a, b):
    a = np.asarray(a, dtype=float)[:, None]
    b = np.asarray(b, dtype=float)[None, :]
    return float(((a > b).sum() - (a < b).sum()) / (a.size * b.size))


def mann_whitney(a, b):
    r = stats.mannwhitneyu(a, b, alternative="two-sided")  # method="auto", use_continuity=True
    # Which method scipy 1.10 chose ("auto": exact without ties when min(n) <= 8).
    pooled = np.concatenate([a, b])
    exact = (len(a) <= 8 or len(b) <= 8) and np.unique(pooled).size == pooled.size
    return {"u": num(r.statistic), "p": num(r.pvalue), "exact": bool(exact)}


def mad_outliers(x, threshold=3.5):
    x = np.asarray(x, dtype=float)
    med = np.median(x)
    dev = np.abs(x - med)
    scale = 1.4826 * np.median(dev)
    if scale == 0:
        scale = 1.253314 * np.mean(dev)
    if scale == 0:
        return []
    return [int(i) for i in np.nonzero(dev / scale > threshold)[0]]


def group_set(groups):
    """Every multi-group method on one list of groups."""
    out = {}
    try:
        h = stats.kruskal(*groups)
        out["kruskal"] = {"h": num(h.statistic), "p": num(h.pvalue), "df": len(groups) - 1}
    except ValueError:  # all numbers identical
        out["kruskal"] = {"h": None, "p": None, "df": len(groups) - 1}
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = stats.f_oneway(*groups)
    out["anova"] = {"f": num(f.statistic), "p": num(f.pvalue),
                    "f_is_inf": bool(np.isinf(f.statistic))}
    raw, ts = dunn_raw(groups)
    ps = [p for (_, _, _, p) in raw]
    valid = [p for p in ps if p is not None]
    bonf = list(adjust(valid, "bonferroni")) if valid else []
    holm = list(adjust(valid, "holm")) if valid else []
    pairs = []
    k = 0
    for (a, b, z, p) in raw:
        entry = {"a": a, "b": b, "z": num(z) if z is not None else None,
                 "p": num(p) if p is not None else None,
                 "p_bonferroni": None, "p_holm": None,
                 "cliffs_delta": cliffs_delta(groups[a], groups[b]),
                 "mean_diff": num(np.mean(groups[a]) - np.mean(groups[b]))}
        if p is not None:
            entry["p_bonferroni"] = num(bonf[k])
            entry["p_holm"] = num(holm[k])
            k += 1
        entry["mann_whitney"] = mann_whitney(np.asarray(groups[a], float), np.asarray(groups[b], float))
        pairs.append(entry)
    out["pairs"] = pairs
    out["tie_sum"] = ts
    return out


def sample_entry(name, x):
    x = [float(v) for v in x]
    e = {"name": name, "values": x, "describe": describe(x), "outliers": mad_outliers(x),
         "ranks": [float(r) for r in stats.rankdata(x)], "tie_sum": tie_sum(x)}
    if 3 <= len(x) <= 5000:
        e["shapiro"] = shapiro(x)
        e["shapiro_float64"] = shapiro_float64(x)
        if len(x) <= 1500:
            assert abs(e["shapiro"]["w"] - e["shapiro_float64"]["w"]) < 2e-4, name
            assert abs(e["shapiro"]["p"] - e["shapiro_float64"]["p"]) < 1e-3, name
    return e


def synthetic():
    rng = np.random.RandomState(20240521)
    samples = [
        ("n3", [1.0, 2.0, 4.0]),
        ("n3_equal_spacing", [1.0, 2.0, 3.0]),
        ("n3_skew", [1.0, 1.1, 9.0]),
        ("n4", [3.1, 2.2, 8.4, 5.0]),
        ("n5", [10.0, 12.5, 11.0, 30.0, 9.5]),
        ("n6", list(rng.normal(50, 5, 6))),
        ("n7_exp", list(rng.exponential(2.0, 7))),
        ("n11", list(rng.normal(0, 1, 11))),
        ("n11_extreme", [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 100.0]),
        ("n12", list(rng.normal(0, 1, 12))),
        ("n20_uniform", list(rng.uniform(0, 1, 20))),
        ("n30_energy", list(rng.normal(38000, 600, 30))),
        ("n50_lognormal", list(rng.lognormal(0, 0.8, 50))),
        ("ties_small", [1.0, 2.0, 2.0, 3.0, 3.0, 3.0, 4.0]),
        ("ties_rounded", list(np.round(rng.normal(10, 2, 40)))),
        ("n100_normal", list(rng.normal(100, 15, 100))),
        ("n1000_normal", list(rng.normal(0, 1, 1000))),
        ("n1500_gamma", list(rng.gamma(2.0, 3.0, 1500))),
        ("n5000_normal", list(rng.normal(5, 2, 5000))),
        ("zero_variance", [7.0] * 6),
        ("large_offset", list(1e9 + rng.normal(0, 1, 25))),
        ("with_outlier", [10.0, 10.2, 9.9, 10.1, 10.0, 9.8, 10.3, 25.0]),
        ("mostly_equal", [5.0, 5.0, 5.0, 5.0, 5.0, 6.0, 9.0]),
        ("one_value", [42.0]),
        ("two_values", [1.0, 3.0]),
    ]
    group_sets = [
        ("three_small", [[1.0, 2.0, 4.0], [3.0, 5.0, 6.0, 7.5], [8.0, 9.0, 10.0, 12.0, 11.0]]),
        ("worked_example_ties", [[1, 2, 3, 5, 1], [12, 31, 54], [10, 12, 6, 74, 11]]),
        ("two_small_exact", [[1.1, 2.2, 3.3, 4.4], [2.5, 5.5, 6.6, 7.7, 8.8]]),
        ("two_small_ties", [[1.0, 2.0, 2.0, 3.0], [2.0, 4.0, 5.0]]),
        ("two_exact_n8", [list(rng.normal(0, 1, 8)), list(rng.normal(1, 1, 20))]),
        ("two_large", [list(rng.normal(0, 1, 1000)), list(rng.normal(0.1, 1, 1200))]),
        ("five_unequal", [list(rng.normal(10, 1, n)) for n in (5, 12, 30, 7, 50)]),
        ("five_shifted", [list(rng.normal(mu, 1.0, 30)) for mu in (0.0, 0.2, 0.8, 1.5, 0.1)]),
        ("ties_groups", [list(np.round(rng.normal(mu, 1.5, 25))) for mu in (5, 6, 5, 8)]),
        ("constant_groups_differ", [[1.0, 1.0, 1.0], [2.0, 2.0], [2.0, 2.0, 2.0, 2.0]]),
        ("all_identical", [[3.0, 3.0, 3.0], [3.0, 3.0], [3.0, 3.0, 3.0]]),
        ("large_three", [list(rng.normal(mu, 1.0, 1000)) for mu in (0.0, 0.05, 0.2)]),
    ]
    out = {"samples": [], "group_sets": [], "quantiles": [], "p_adjust": []}
    for name, x in samples:
        out["samples"].append(sample_entry(name, x))
    for name, groups in group_sets:
        groups = [[float(v) for v in g] for g in groups]
        e = {"name": name, "groups": groups}
        e.update(group_set(groups))
        out["group_sets"].append(e)
    for name, x in samples[:6]:
        for q in (0.0, 0.1, 0.25, 0.333, 0.5, 0.75, 0.9, 0.975, 1.0):
            out["quantiles"].append({"sample": name, "q": q,
                                     "value": num(np.quantile(np.asarray(x, float), q))})
    for p in ([0.01, 0.04, 0.03, 0.005], [0.5, 0.2, 0.9], [0.001, 0.001, 0.2, 0.3, 0.04, 0.6],
              [0.3, 0.4]):
        out["p_adjust"].append({"p": p, "bonferroni": list(map(float, adjust(p, "bonferroni"))),
                                "holm": list(map(float, adjust(p, "holm")))})
    return out


def power_caps():
    """Synthetic power-cap runs and the expected analysis (medians per cell, then overheads)."""
    rng = np.random.RandomState(7)
    rows = []
    caps = [100.0, 150.0, 200.0, 250.0]
    for env, slow in (("bare", 1.0), ("docker", 1.03), ("kvm", 1.08)):
        for wl, base_t in (("resnet", 100.0), ("bert", 60.0)):
            for cap in caps:
                for _ in range(5):
                    t = base_t * slow * (250.0 / cap) ** 0.6 * rng.normal(1, 0.01)
                    p = cap * 0.9 * rng.normal(1, 0.01)
                    rows.append({"environment": env, "workload": wl, "cap_w": cap,
                                 "time_s": float(t), "energy_j": float(p * t)})
    # kvm at 100 W has no bert runs in bare: drop bare/bert/100 to test the skip.
    rows = [r for r in rows if not (r["environment"] == "bare" and r["workload"] == "bert"
                                    and r["cap_w"] == 100.0)]
    cells = {}
    for r in rows:
        key = (r["environment"], r["workload"], r["cap_w"])
        c = cells.setdefault(key, {"t": [], "e": [], "edp": [], "ed2p": []})
        c["t"].append(r["time_s"])
        c["e"].append(r["energy_j"])
        c["edp"].append(r["energy_j"] * r["time_s"])
        c["ed2p"].append(r["energy_j"] * r["time_s"] ** 2)
    med = {k: {m: float(np.median(v)) for m, v in c.items()} for k, c in cells.items()}
    optima = []
    for env in ("bare", "docker", "kvm"):
        for wl in ("resnet", "bert"):
            ks = sorted(c for (e, w, c) in med if e == env and w == wl)
            best = {}
            for m in ("e", "edp", "ed2p"):
                vals = [med[(env, wl, c)][m] for c in ks]
                i = int(np.argmin(vals))  # first minimum = lowest cap on a tie
                best[m] = (ks[i], vals[i])
            optima.append({"environment": env, "workload": wl,
                           "cap_min_energy_w": best["e"][0], "min_energy_j": best["e"][1],
                           "cap_min_edp_w": best["edp"][0], "min_edp_js": best["edp"][1],
                           "cap_min_ed2p_w": best["ed2p"][0], "min_ed2p_js2": best["ed2p"][1]})
    overheads, summary = [], []
    for env in ("docker", "kvm"):
        for wl in ("resnet", "bert"):
            rows_o = []
            for c in sorted(c for (e, w, c) in med if e == env and w == wl):
                if ("bare", wl, c) not in med:
                    continue
                b = med[("bare", wl, c)]
                m = med[(env, wl, c)]
                o = {"environment": env, "workload": wl, "cap_w": c,
                     "time_pct": 100 * (m["t"] - b["t"]) / b["t"],
                     "energy_pct": 100 * (m["e"] - b["e"]) / b["e"],
                     "edp_pct": 100 * (m["edp"] - b["edp"]) / b["edp"]}
                rows_o.append(o)
            overheads += rows_o
            s = {"environment": env, "workload": wl, "caps": len(rows_o)}
            for m in ("time", "energy", "edp"):
                v = [o[m + "_pct"] for o in rows_o]
                s[m + "_avg_pct"] = float(np.mean(v))
                s[m + "_max_pct"] = float(np.max(v))
            summary.append(s)
    return {"baseline": "bare", "runs": rows, "optima": optima, "overheads": overheads,
            "summary": summary}


def read_per_run(path):
    import csv
    energy, time = [], []
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        ie = header.index("Energy Consumption (Joules)")
        it = header.index("Execution Time (Seconds)")
        for row in reader:
            if not row or all(not c.strip() for c in row):
                continue
            energy.append(float(row[ie]))
            time.append(float(row[it]))
    return energy, time


def tudelft():
    images = ["cuda-base", "nvcr-base", "python-base", "pytorch-base", "ubuntu-base"]
    out = {"images": images, "files": [f"{i}_output.csv" for i in images], "metrics": {}}
    data = {i: read_per_run(os.path.join(TUDELFT, f"{i}_output.csv")) for i in images}
    for mi, metric in enumerate(["Energy Consumption (Joules)", "Execution Time (Seconds)"]):
        groups = [data[i][mi] for i in images]
        m = {"groups": []}
        for i, g in zip(images, groups):
            e = sample_entry(i, g)
            del e["values"], e["ranks"]
            m["groups"].append(e)
        gs = group_set(groups)
        m["kruskal"] = gs["kruskal"]
        m["anova"] = gs["anova"]
        m["pairs"] = gs["pairs"]
        out["metrics"][metric] = m
    return out


def main():
    check_dunn_worked_example()
    meta = {"generator": "tests/data/stats/make_reference.py", "scipy": scipy.__version__,
            "numpy": np.__version__, "python": sys.version.split()[0]}
    ref = {"meta": meta}
    ref.update(synthetic())
    ref["power_caps"] = power_caps()
    with open(os.path.join(HERE, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")
    if os.path.isdir(TUDELFT):
        t = {"meta": meta}
        t.update(tudelft())
        with open(os.path.join(HERE, "tudelft_reference.json"), "w") as f:
            json.dump(t, f, indent=1)
            f.write("\n")
    else:
        print(f"note: {TUDELFT} absent; tudelft_reference.json not regenerated", file=sys.stderr)


if __name__ == "__main__":
    main()
