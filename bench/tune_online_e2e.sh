#!/usr/bin/env bash
# End-to-end figures of `joulebench tune --method online` (issue 16): one run per trial, through
# the real binary, on a simulated GPU: the fake libnvidia-ml.so.1 (docs/nvml.md, one GPU, limits
# 100..400 W, idle 0 W) and joulebench-fake-gpu-load in progress mode (`step i` per unit of work,
# the cap re-read before each unit), for the three curve shapes of tests/fakes/cap_curves.hpp,
# metric EDP over caps 100:300:10, settle 0.3 s, segments of 1.5 s, 2 passes.
#
# usage: bench/tune_online_e2e.sh [BUILD_DIR]      (default: build)
# environment: TRIALS (per shape, default 3), NOISE (relative sd per unit, default 0.02)
# Prints per trial the cap found, whether it is within one step of an optimal cap, the caps that
# cannot be told apart from it, and the wall time of the one run.
set -euo pipefail

build=${1:-build}
trials=${TRIALS:-3}
noise=${NOISE:-0.02}
jb=$build/joulebench
load=$build/joulebench-fake-gpu-load
lib=$build/tests/fakes/libnvidia-ml.so.1
for f in "$jb" "$load" "$lib"; do
    [[ -e $f ]] || { echo "tune_online_e2e: $f is missing: build first" >&2; exit 1; }
done
work=$(mktemp -d -t joulebench-tune-online.XXXXXX)
trap 'rm -rf "$work"' EXIT

# shape: demand W, a, p, and the caps within one step of an optimal cap (cap_curves.hpp).
declare -A params=([inside]="300 1 2" [lowest]="300 0.05 1" [plateau]="250 1 1")
declare -A good=([inside]="240 250 260" [lowest]="100 110" [plateau]="240 250 260 270 280 290 300")

for shape in inside lowest plateau; do
    read -r demand a p <<<"${params[$shape]}"
    ok=0
    for trial in $(seq 1 "$trials"); do
        w=$work/$shape-$trial
        mkdir -p "$w/powercap" "$w/state"
        cat >"$w/nvml.json" <<JSON
{"gpus": [{"name": "NVIDIA A100-SXM4-40GB", "uuid": "GPU-0", "pci_bus_id": "00000000:17:00.0",
  "power_mw": 0, "energy_mj": 1000000,
  "limits": {"current_mw": 400000, "enforced_mw": 400000, "min_mw": 100000, "max_mw": 400000,
             "default_mw": 400000}}]}
JSON
        start=$(date +%s)
        # 5000 units of 20 ms at full power: the profile takes about 80 s of them, the rest runs
        # at the best cap.
        JOULEBENCH_NVML_LIBRARY=$lib JOULEBENCH_FAKE_NVML_STATE=$w/nvml.json \
            JOULEBENCH_POWERCAP_ROOT=$w/powercap JOULEBENCH_STATE_DIR=$w/state \
            "$jb" tune --method online --caps 100:300:10 --metric edp \
            --progress-regex '^step [0-9]+' --settle 0.3 --segment 1.5 --json "$w/out.json" -- \
            "$load" --units 5000 --unit-s 0.02 --demand "$demand" --a "$a" --p "$p" \
            --noise "$noise" >/dev/null 2>"$w/err" || { tail -5 "$w/err" >&2; exit 1; }
        wall=$(( $(date +%s) - start ))
        best=$(python3 -c "import json,sys; print('%g' % json.load(open(sys.argv[1]))['best_cap_w'])" "$w/out.json")
        hit=0
        for g in ${good[$shape]}; do [[ $best == "$g" ]] && hit=1; done
        ok=$((ok + hit))
        indist=$(python3 -c "import json,sys; print(','.join('%g' % c for c in json.load(open(sys.argv[1]))['indistinguishable_caps_w']))" "$w/out.json")
        echo "$shape trial $trial: best $best W (ok=$hit), cannot be told apart: ${indist:-none}; 1 run, $wall s"
    done
    echo "$shape: online success $ok/$trials"
done
