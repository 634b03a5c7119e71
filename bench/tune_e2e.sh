#!/usr/bin/env bash
# End-to-end figures of `joulebench tune` (issue 16) against `joulebench sweep --repetitions 3`,
# through the real binary, on a simulated GPU: the fake libnvidia-ml.so.1 (docs/nvml.md) with one
# GPU (limits 100..400 W, idle 0 W) and the simulated cap-bound workload joulebench-fake-gpu-load,
# for the three curve shapes of tests/fakes/cap_curves.hpp, metric EDP over caps 100:300:10.
# Each trial starts from a fresh state file; the workload draws its noise from /dev/urandom.
#
# usage: bench/tune_e2e.sh [BUILD_DIR]       (default: build)
# environment: TRIALS (per shape, default 5), T0 (seconds at an uncapped cap, default 0.3),
#              NOISE (relative sd of a run, default 0.02), SHAPES (default "inside lowest plateau"),
#              SWEEP (1: also the sweep, default 1), KEEP (1: keep the work folder)
# Prints one line per trial and a summary per shape: success (cap within one grid step of an
# optimal cap) and runs used. Exit status 0 when every command ran, 1 otherwise.
set -euo pipefail

build=${1:-build}
trials=${TRIALS:-5}
t0=${T0:-0.3}
noise=${NOISE:-0.02}
shapes=${SHAPES:-inside lowest plateau}
with_sweep=${SWEEP:-1}

jb=$build/joulebench
load=$build/joulebench-fake-gpu-load
lib=$build/tests/fakes/libnvidia-ml.so.1
for f in "$jb" "$load" "$lib"; do
    [[ -e $f ]] || { echo "tune_e2e: $f is missing: build first (cmake --build $build)" >&2; exit 1; }
done
if ! "$jb" tune --help >/dev/null 2>&1; then
    echo "tune_e2e: $jb has no 'tune' command yet" >&2
    exit 1
fi

work=$(mktemp -d -t joulebench-tune-e2e.XXXXXX)
[[ ${KEEP:-0} == 1 ]] || trap 'rm -rf "$work"' EXIT
mkdir -p "$work/powercap" "$work/state" "$work/tmp"

# The shapes: demand W, a, p (tests/fakes/cap_curves.hpp) and the caps within one step of an
# optimal cap (checked by the unit test CapCurves.OptimaOfTheThreeShapes).
declare -A params=([inside]="300 1 2" [lowest]="300 0.05 1" [plateau]="250 1 1")
declare -A good=([inside]="240 250 260" [lowest]="100 110" [plateau]="240 250 260 270 280 290 300")

new_state() {
    cat >"$1" <<EOF
{"driver_version": "550.54.15", "errors": {}, "calls": [],
 "gpus": [{"name": "NVIDIA A100-SXM4-40GB", "uuid": "GPU-fa4e0000-0000-4000-8000-000000000000",
           "pci_bus_id": "00000000:17:00.0", "power_mw": 0, "energy_mj": 1000000.0,
           "energy_anchor_ns": 0, "temperature_c": 45, "sm_clock_mhz": 1410,
           "utilization_gpu": 0, "utilization_memory": 0, "clocks_event_reasons": 0,
           "limits": {"current_mw": 400000, "enforced_mw": 400000, "min_mw": 100000,
                      "max_mw": 400000, "default_mw": 400000},
           "persistence_mode": true, "supported": {}, "errors": {}}]}
EOF
}

# field FILE EXPR: a value of a JSON file (python3's json: no jq needed).
field() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

is_good() { [[ " ${good[$1]} " == *" $2 "* ]]; }

failed=0
for shape in $shapes; do
    read -r demand a p <<<"${params[$shape]}"
    cmd=("$load" --t0 "$t0" --demand "$demand" --a "$a" --p "$p" --noise "$noise")
    tune_ok=0 tune_runs=0 sweep_ok=0 sweep_runs=0 done_trials=0
    for ((t = 1; t <= trials; t++)); do
        state=$work/$shape-$t.json
        export JOULEBENCH_NVML_LIBRARY=$lib JOULEBENCH_FAKE_NVML_STATE=$state
        export JOULEBENCH_POWERCAP_ROOT=$work/powercap JOULEBENCH_STATE_DIR=$work/state
        export TMPDIR=$work/tmp
        new_state "$state"
        out=$work/$shape-$t-tune.json
        start=$(date +%s.%N)
        if ! "$jb" tune --caps 100:300:10 --metric edp --json "$out" -- "${cmd[@]}" \
            >"$work/$shape-$t-tune.log" 2>&1; then
            echo "tune_e2e: $shape trial $t: joulebench tune failed:" >&2
            tail -5 "$work/$shape-$t-tune.log" >&2
            failed=1
            continue
        fi
        tune_s=$(echo "$(date +%s.%N) - $start" | bc)
        cap=$(field "$out" 'int(round(d["best_cap_w"])) if d.get("best_cap_w") is not None else "none"')
        runs=$(field "$out" 'd["runs_used"]')
        ok=0; is_good "$shape" "$cap" && ok=1
        tune_ok=$((tune_ok + ok)) tune_runs=$((tune_runs + runs))
        line="$shape trial $t: tune $cap W in $runs runs (${tune_s%.*} s, ok=$ok)"
        if [[ $with_sweep == 1 ]]; then
            new_state "$state"
            sout=$work/$shape-$t-sweep.json
            start=$(date +%s.%N)
            if ! "$jb" sweep --caps 100:300:10 --repetitions 3 --json "$sout" -- "${cmd[@]}" \
                >"$work/$shape-$t-sweep.log" 2>&1; then
                echo "tune_e2e: $shape trial $t: joulebench sweep failed:" >&2
                tail -5 "$work/$shape-$t-sweep.log" >&2
                failed=1
                continue
            fi
            sweep_s=$(echo "$(date +%s.%N) - $start" | bc)
            scap=$(field "$sout" 'int(round(d["best"]["edp_js"])) if d["best"]["edp_js"] is not None else "none"')
            sruns=$(field "$sout" 'sum(c["n"] + c["failed"] for c in d["caps"])')
            sok=0; is_good "$shape" "$scap" && sok=1
            sweep_ok=$((sweep_ok + sok)) sweep_runs=$((sweep_runs + sruns))
            line+="; sweep $scap W in $sruns runs (${sweep_s%.*} s, ok=$sok)"
        fi
        done_trials=$((done_trials + 1))
        echo "$line"
    done
    if ((done_trials > 0)); then
        summary="$shape: tune success $tune_ok/$done_trials, mean runs $(echo "scale=1; $tune_runs / $done_trials" | bc)"
        if [[ $with_sweep == 1 ]]; then
            summary+="; sweep success $sweep_ok/$done_trials, mean runs $(echo "scale=1; $sweep_runs / $done_trials" | bc)"
            summary+="; runs ratio $(echo "scale=3; $tune_runs / $sweep_runs" | bc)"
        fi
        echo "$summary"
    fi
done
exit $failed
