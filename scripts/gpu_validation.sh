#!/usr/bin/env bash
# One-command GPU validation of joulebench (issues 2 and 7): measures, on the machine it runs on,
# what docs/validation/gpu.md must report, and writes it as DIR/gpu.md beside the raw files.
#
#   scripts/gpu_validation.sh [--joulebench PATH] [--out DIR] [--seconds N] [options]
#
# STRICTLY READ-ONLY on the GPU: it reads energy, power, limits, clocks, temperature and
# utilisation (NVML getters through joulebench and joulebench_nvml_cost, `nvidia-smi --query-gpu`).
# It never sets power limits, clocks, persistence mode, compute mode or MIG, and never resets a GPU.
#
# Steps (each one is recorded in DIR/steps.tsv as ok, skipped or failed with its reason; a step
# that cannot run never stops the others):
#   machine   joulebench --version, `joulebench sensors -v [--json]`, nvidia-smi queries, torch/CUDA
#   nvml_cost joulebench_nvml_cost: median and p99 ns of each NVML call the sampler makes
#   matmul    workloads/matmul_load.py under `joulebench measure --interval MS --idle-baseline S
#             --samples --json --gpus all`, with nvidia-smi sampling power.draw every 100 ms beside
#             it (on the CPU, or `sleep`, when CUDA or torch is missing: the GPU then sits idle)
#   resnet50, bert   workloads/resnet50_infer.py and bert_infer.py on CUDA under measure: J/inference
#   report    scripts/gpu_validation_report.py DIR -> DIR/gpu.md
# Exit status: 0 when something was measured (even with steps skipped), 1 when nothing could be
# measured, 2 for bad usage.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
    cat <<EOF
usage: scripts/gpu_validation.sh [options]

  --joulebench PATH   joulebench binary (default: build/joulebench)
  --nvml-cost PATH    joulebench_nvml_cost binary (default: beside joulebench)
  --out DIR           output folder, created; must not exist or be empty
                      (default: gpu-validation-<UTC date and time>)
  --seconds N         seconds of matrix-multiply load (default: 30)
  --idle S            idle baseline before each measured run, seconds (default: 5)
  --interval MS       joulebench trace interval (default: 100)
  --gpu I             GPU (joulebench index = PCI order = nvidia-smi order) the workloads run on
                      (default: 0); the matmul run measures all GPUs, the inference runs this one
  --cost-calls N      timed calls per NVML function (default: 1000)
  --matmul-args "..."   extra arguments of workloads/matmul_load.py (e.g. "--size 4096")
  --resnet-args "..."   arguments of workloads/resnet50_infer.py (default: "--warmup 3")
  --bert-args "..."     arguments of workloads/bert_infer.py (default: none: BERT-base, 100 x 512 tokens)
  --skip-inference    do not run the ResNet-50 and BERT steps
  --timeout S         stop a measured run (SIGTERM through joulebench) after S seconds (default: 900)
  -h, --help          this text

Environment: PYTHON (interpreter with torch; default /usr/bin/python3 when present, else python3),
NVIDIA_SMI (default nvidia-smi), JOULEBENCH_NVML_LIBRARY (NVML library to load first).
EOF
}

JB=build/joulebench
NVML_COST=""
OUT=""
LOAD_SECONDS=30
IDLE=5
INTERVAL=100
GPU=0
COST_CALLS=1000
MATMUL_ARGS=""
RESNET_ARGS="--warmup 3"
BERT_ARGS=""
SKIP_INFERENCE=0
RUN_TIMEOUT=900
ARGV=("$@")

need_value() { [ "$#" -ge 2 ] || { echo "error: gpu_validation: option $1 needs a value" >&2; usage >&2; exit 2; }; }
while [ "$#" -gt 0 ]; do
    case "$1" in
        --joulebench) need_value "$@"; JB=$2; shift 2 ;;
        --nvml-cost) need_value "$@"; NVML_COST=$2; shift 2 ;;
        --out) need_value "$@"; OUT=$2; shift 2 ;;
        --seconds) need_value "$@"; LOAD_SECONDS=$2; shift 2 ;;
        --idle) need_value "$@"; IDLE=$2; shift 2 ;;
        --interval) need_value "$@"; INTERVAL=$2; shift 2 ;;
        --gpu) need_value "$@"; GPU=$2; shift 2 ;;
        --cost-calls) need_value "$@"; COST_CALLS=$2; shift 2 ;;
        --matmul-args) need_value "$@"; MATMUL_ARGS=$2; shift 2 ;;
        --resnet-args) need_value "$@"; RESNET_ARGS=$2; shift 2 ;;
        --bert-args) need_value "$@"; BERT_ARGS=$2; shift 2 ;;
        --skip-inference) SKIP_INFERENCE=1; shift ;;
        --timeout) need_value "$@"; RUN_TIMEOUT=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "error: gpu_validation: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
done

bad_usage() { echo "error: gpu_validation: $1" >&2; exit 2; }
is_number() { [[ $1 =~ ^[0-9]+([.][0-9]+)?$ ]]; }
if ! is_number "$LOAD_SECONDS" || [[ $LOAD_SECONDS =~ ^0+([.]0+)?$ ]]; then
    bad_usage "--seconds $LOAD_SECONDS: not a number above 0"
fi
is_number "$IDLE" || bad_usage "--idle $IDLE: not a number of seconds"
[[ $INTERVAL =~ ^[1-9][0-9]*$ ]] || bad_usage "--interval $INTERVAL: not a positive integer (ms)"
[[ $GPU =~ ^[0-9]+$ ]] || bad_usage "--gpu $GPU: not a GPU index"
[[ $COST_CALLS =~ ^[1-9][0-9]*$ ]] || bad_usage "--cost-calls $COST_CALLS: not a positive integer"
[[ $RUN_TIMEOUT =~ ^[1-9][0-9]*$ ]] || bad_usage "--timeout $RUN_TIMEOUT: not a positive integer (s)"

if [ -z "$OUT" ]; then OUT=gpu-validation-$(date -u +%Y%m%d-%H%M%S); fi
if [ -e "$OUT" ] && [ -n "$(ls -A "$OUT" 2>/dev/null)" ]; then
    bad_usage "create output folder $OUT: it exists and is not empty (give a new --out)"
fi
mkdir -p "$OUT" || { echo "error: gpu_validation: create output folder $OUT: mkdir failed" >&2; exit 1; }
OUT=$(cd "$OUT" && pwd)

if [ -z "${PYTHON:-}" ]; then
    if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi
SMI=${NVIDIA_SMI:-nvidia-smi}
if [ -z "$NVML_COST" ]; then NVML_COST=$(dirname "$JB")/joulebench_nvml_cost; fi
# Every `joulebench measure` first replays the power-cap journal a crashed capped run may have
# left in joulebench's state folder, which sets power limits back. The kit must never write a
# GPU setting, so its measures get a state folder of their own (empty) inside DIR. A journal
# left by an earlier crash is not touched: `joulebench caps restore` restores it when you choose.
export JOULEBENCH_STATE_DIR="$OUT/state"

STEPS=$OUT/steps.tsv
: > "$STEPS"
# record STEP STATUS REASON: one line of steps.tsv (tabs and newlines in the reason flattened).
record() {
    local reason=${3//$'\t'/ }
    reason=${reason//$'\n'/ }
    printf '%s\t%s\t%s\n' "$1" "$2" "$reason" >> "$STEPS"
    echo "gpu_validation: $1: $2${reason:+ ($reason)}" >&2
}
# The last non-empty line of a file (an error message), or a default.
last_line() { local l; l=$(grep -v '^[[:space:]]*$' "$1" 2>/dev/null | tail -n 1); echo "${l:-$2}"; }

# --- kit metadata -----------------------------------------------------------------------------
{
    printf 'command\t%s\n' "scripts/gpu_validation.sh ${ARGV[*]}"
    printf 'started_utc\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    printf 'hostname\t%s\n' "$(hostname 2>/dev/null || echo unknown)"
    printf 'kernel\t%s\n' "$(uname -srm)"
    printf 'cpu\t%s\n' "$(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')"
    printf 'cpus\t%s\n' "$(nproc 2>/dev/null)"
    printf 'git_commit\t%s\n' "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    printf 'joulebench\t%s\n' "$JB"
    printf 'nvml_cost\t%s\n' "$NVML_COST"
    printf 'python\t%s\n' "$PYTHON"
    printf 'nvidia_smi\t%s\n' "$SMI"
    printf 'seconds\t%s\n' "$LOAD_SECONDS"
    printf 'idle_s\t%s\n' "$IDLE"
    printf 'interval_ms\t%s\n' "$INTERVAL"
    printf 'gpu\t%s\n' "$GPU"
    printf 'cost_calls\t%s\n' "$COST_CALLS"
    printf 'timeout_s\t%s\n' "$RUN_TIMEOUT"
    printf 'nvml_library_env\t%s\n' "${JOULEBENCH_NVML_LIBRARY:-}"
    printf 'ld_library_path\t%s\n' "${LD_LIBRARY_PATH:-}"
} > "$OUT/kit.tsv"

MEASURED=0

# --- 1. machine -------------------------------------------------------------------------------
mkdir -p "$OUT/machine"
HAVE_JB=0
if [ -x "$JB" ]; then
    HAVE_JB=1
    "$JB" --version > "$OUT/machine/joulebench-version.txt" 2>&1
    if "$JB" sensors -v --json > "$OUT/machine/sensors.json" 2> "$OUT/machine/sensors.err"; then
        "$JB" sensors -v > "$OUT/machine/sensors.txt" 2>&1
        record sensors ok ""
    else
        record sensors failed "joulebench sensors: $(last_line "$OUT/machine/sensors.err" "exit status $?")"
    fi
else
    record sensors failed "joulebench binary $JB not found or not executable (give --joulebench PATH)"
fi

HAVE_SMI=0
SMI_SKIP_REASON=""
if command -v "$SMI" > /dev/null 2>&1; then
    # Read-only queries only. A field an older driver does not know makes nvidia-smi refuse the
    # whole query, so a shorter list is tried next.
    fields_full=index,name,pci.bus_id,uuid,driver_version,vbios_version,pstate,persistence_mode,power.management,power.limit,enforced.power.limit,power.default_limit,power.min_limit,power.max_limit,power.draw,temperature.gpu,clocks.sm,clocks.max.sm,utilization.gpu,memory.total
    fields_short=index,name,pci.bus_id,uuid,driver_version,power.limit,power.draw,temperature.gpu,clocks.sm
    if "$SMI" --query-gpu=$fields_full --format=csv > "$OUT/machine/nvidia-smi.csv" 2> "$OUT/machine/nvidia-smi.err" ||
       "$SMI" --query-gpu=$fields_short --format=csv > "$OUT/machine/nvidia-smi.csv" 2>> "$OUT/machine/nvidia-smi.err"; then
        HAVE_SMI=1
        "$SMI" > "$OUT/machine/nvidia-smi.txt" 2>&1
        record nvidia-smi ok ""
    else
        SMI_SKIP_REASON="nvidia-smi --query-gpu failed: $(last_line "$OUT/machine/nvidia-smi.err" unknown)"
        record nvidia-smi failed "$SMI_SKIP_REASON"
    fi
else
    SMI_SKIP_REASON="nvidia-smi not found (looked for '$SMI' on PATH; set NVIDIA_SMI to its path)"
    record nvidia-smi skipped "$SMI_SKIP_REASON"
fi

# torch and CUDA, as the workloads will see them.
TORCH=0
CUDA=0
TORCH_REASON=""
if ! command -v "$PYTHON" > /dev/null 2>&1; then
    TORCH_REASON="Python interpreter '$PYTHON' not found (set PYTHON)"
else
    timeout 300 "$PYTHON" - "$PYTHON" > "$OUT/machine/torch.json" 2> "$OUT/machine/torch.err" <<'PYEOF'
import json, sys
out = {"python": sys.version.split()[0], "torch": None, "cuda_build": None, "cuda_available": False,
       "devices": [], "error": None, "reason": None}
try:
    import torch
    out["torch"] = torch.__version__
    out["cuda_build"] = torch.version.cuda
    out["cuda_available"] = bool(torch.cuda.is_available())
    if out["cuda_available"]:
        out["devices"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
except Exception as error:  # ImportError, or a CUDA initialisation error
    out["error"] = "%s: %s" % (type(error).__name__, error)
if out["torch"] is None:
    out["reason"] = "torch cannot be imported by %s (%s)" % (sys.argv[1], out["error"])
elif not out["cuda_available"]:
    built = ("built for CUDA %s" % out["cuda_build"]) if out["cuda_build"] else "built without CUDA"
    out["reason"] = "torch %s (%s): torch.cuda.is_available() is false%s" % (
        out["torch"], built, " (%s)" % out["error"] if out["error"] else "")
print(json.dumps(out))
PYEOF
    probe_rc=$?
    if [ $probe_rc -ne 0 ]; then
        TORCH_REASON="torch probe with $PYTHON failed (exit status $probe_rc): $(last_line "$OUT/machine/torch.err" '')"
    else
        TORCH_REASON=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["reason"] or "")' "$OUT/machine/torch.json")
        grep -q '"torch": null' "$OUT/machine/torch.json" || TORCH=1
        grep -q '"cuda_available": true' "$OUT/machine/torch.json" && CUDA=1
    fi
fi
if [ $CUDA -eq 1 ]; then record cuda ok ""; else record cuda skipped "$TORCH_REASON"; fi

# --- 2. NVML call costs -------------------------------------------------------------------------
if [ -x "$NVML_COST" ]; then
    if timeout --foreground --kill-after=10 "$RUN_TIMEOUT" "$NVML_COST" --calls "$COST_CALLS" > "$OUT/nvml_cost.json" 2> "$OUT/nvml_cost.err"; then
        record nvml_cost ok ""
        MEASURED=1
    else
        rc=$?
        record nvml_cost failed "joulebench_nvml_cost exit status $rc: $(last_line "$OUT/nvml_cost.err" '')"
        rm -f "$OUT/nvml_cost.json"
    fi
else
    record nvml_cost skipped "$NVML_COST not found or not executable (build target joulebench_nvml_cost, or give --nvml-cost PATH)"
fi

# --- 3. counter vs integrated vs nvidia-smi under a matrix-multiply load ------------------------
# smi_start FILE: nvidia-smi samples every 100 ms into FILE (times in UTC, so the report can place
# them against measure's Unix times wherever it runs). power.draw.instant (drivers >= 530) is
# sampled too where the driver knows it; power.draw is then a 1 s average on some boards.
SMI_PID=""
smi_start() {
    SMI_PID=""
    [ $HAVE_SMI -eq 1 ] || return 0
    local fields=timestamp,index,power.draw,power.draw.instant
    if ! "$SMI" --query-gpu=$fields --format=csv,noheader,nounits > /dev/null 2>&1; then
        fields=timestamp,index,power.draw
    fi
    echo "$fields" > "$1.fields"
    TZ=UTC "$SMI" --query-gpu=$fields --format=csv,noheader,nounits -lms 100 > "$1" 2> "$1.err" &
    SMI_PID=$!
    sleep 0.5  # its first samples precede the measured window
}
smi_stop() {
    [ -n "$SMI_PID" ] || return 0
    sleep 0.5  # and its last ones follow it
    kill "$SMI_PID" 2> /dev/null
    wait "$SMI_PID" 2> /dev/null
    SMI_PID=""
}
trap 'smi_stop' EXIT

# measure_run DIR GPUS CMD...: the command under joulebench measure, its stdout (the workload's
# JSON line) in DIR/workload.json, measure's document in DIR/m.json, the trace in DIR/trace.csv.
measure_run() {
    local dir=$1 gpus=$2
    shift 2
    mkdir -p "$dir"
    printf '%q ' "$JB" measure --interval "$INTERVAL" --idle-baseline "$IDLE" --samples "$dir/trace.csv" \
        --json "$dir/m.json" --gpus "$gpus" -- "$@" > "$dir/command.txt"
    echo >> "$dir/command.txt"
    # joulebench forwards timeout's SIGTERM to the workload and still writes m.json. --foreground:
    # timeout stays in the terminal's process group, so Ctrl-C reaches joulebench and the
    # workload (once each), and only joulebench gets timeout's signals.
    timeout --foreground --kill-after=30 "$RUN_TIMEOUT" "$JB" measure --interval "$INTERVAL" --idle-baseline "$IDLE" \
        --samples "$dir/trace.csv" --json "$dir/m.json" --gpus "$gpus" -- "$@" > "$dir/workload.json" 2> "$dir/measure.err"
    local rc=$?
    [ $rc -ne 124 ] || echo "gpu_validation: timed out after $RUN_TIMEOUT s (--timeout)" >> "$dir/measure.err"
    return $rc
}

if [ $HAVE_JB -eq 0 ]; then
    record matmul skipped "no joulebench binary"
else
    if [ $CUDA -eq 1 ]; then
        load=("$PYTHON" "$ROOT/workloads/matmul_load.py" --device cuda --seconds "$LOAD_SECONDS")
        load_note="cuda (GPU $GPU)"
    elif [ $TORCH -eq 1 ]; then
        load=("$PYTHON" "$ROOT/workloads/matmul_load.py" --device cpu --seconds "$LOAD_SECONDS")
        load_note="cpu: $TORCH_REASON; the GPU sat idle"
    else
        load=(sleep "$LOAD_SECONDS")
        load_note="sleep: ${TORCH_REASON}; the GPU sat idle"
    fi
    # shellcheck disable=SC2206  # word splitting of the user's extra arguments is wanted
    [ "${load[0]}" = sleep ] || load+=($MATMUL_ARGS)
    mkdir -p "$OUT/matmul"
    echo "$load_note" > "$OUT/matmul/load.txt"
    smi_start "$OUT/matmul/smi.csv"
    CUDA_VISIBLE_DEVICES=$GPU measure_run "$OUT/matmul" all "${load[@]}"
    rc=$?
    smi_stop
    if [ -s "$OUT/matmul/m.json" ]; then
        MEASURED=1
        if [ $rc -eq 0 ]; then record matmul ok "$load_note"
        else record matmul failed "the load exited with status $rc ($(last_line "$OUT/matmul/measure.err" '')); measured anyway"; fi
    else
        record matmul failed "joulebench measure exit status $rc: $(last_line "$OUT/matmul/measure.err" '')"
    fi
    if [ $HAVE_SMI -eq 0 ]; then record smi_power skipped "$SMI_SKIP_REASON"
    elif [ -s "$OUT/matmul/smi.csv" ]; then record smi_power ok ""
    else record smi_power failed "nvidia-smi -lms 100 wrote no samples: $(last_line "$OUT/matmul/smi.csv.err" '')"; fi
fi

# --- 4. energy per inference ------------------------------------------------------------------
for wl in resnet50 bert; do
    if [ $SKIP_INFERENCE -eq 1 ]; then record "$wl" skipped "--skip-inference given"; continue; fi
    if [ $HAVE_JB -eq 0 ]; then record "$wl" skipped "no joulebench binary"; continue; fi
    if [ $CUDA -eq 0 ]; then record "$wl" skipped "$TORCH_REASON"; continue; fi
    if [ "$wl" = resnet50 ]; then script=resnet50_infer.py; args=$RESNET_ARGS; else script=bert_infer.py; args=$BERT_ARGS; fi
    # shellcheck disable=SC2086  # the user's extra arguments are split into words on purpose
    CUDA_VISIBLE_DEVICES=$GPU measure_run "$OUT/$wl" "$GPU" "$PYTHON" "$ROOT/workloads/$script" --device cuda $args
    rc=$?
    if [ -s "$OUT/$wl/m.json" ] && [ $rc -eq 0 ]; then
        MEASURED=1
        record "$wl" ok ""
    elif [ -s "$OUT/$wl/m.json" ]; then
        MEASURED=1
        record "$wl" failed "workload exit status $rc: $(last_line "$OUT/$wl/measure.err" '')"
    else
        record "$wl" failed "joulebench measure exit status $rc: $(last_line "$OUT/$wl/measure.err" '')"
    fi
done

# --- 5. the report ------------------------------------------------------------------------------
REPORT_PY=$PYTHON
command -v "$REPORT_PY" > /dev/null 2>&1 || REPORT_PY=python3
if "$REPORT_PY" "$ROOT/scripts/gpu_validation_report.py" "$OUT" > "$OUT/report.log" 2>&1; then
    echo "gpu_validation: wrote $OUT/gpu.md" >&2
else
    echo "error: gpu_validation: write $OUT/gpu.md: $(last_line "$OUT/report.log" 'report failed')" >&2
    echo "hint: the raw files are in $OUT; rerun: $REPORT_PY scripts/gpu_validation_report.py $OUT" >&2
fi

if [ $MEASURED -eq 0 ]; then
    echo "error: gpu_validation: nothing could be measured (see $OUT/steps.tsv)" >&2
    exit 1
fi
exit 0
