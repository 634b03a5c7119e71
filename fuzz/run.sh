#!/usr/bin/env bash
# `make fuzz` (docs/fuzzing.md): runs each libFuzzer target of build-fuzz for SECONDS, from its
# seeds (the repository's test data, fuzz/seeds/TARGET, and what joulebench_fuzz_seeds writes)
# and its corpus, which grows in CACHE/corpus/TARGET (outside git). Prints one line per target
# (executions, their rate, coverage, new corpus entries) and, for a target that failed, the end
# of its log and the input that made it fail (CACHE/artifacts/). Exit 1 when any target failed.
#
#   fuzz/run.sh BIN_DIR SECONDS CACHE TARGET...
set -uo pipefail
bin=$1 seconds=$2 cache=$3
shift 3
src=$(cd "$(dirname "$0")/.." && pwd)

seeds=$cache/seeds
rm -rf "$seeds"
mkdir -p "$seeds" "$cache/artifacts" "$cache/logs"
"$bin/joulebench_fuzz_seeds" "$src" "$seeds" || exit 1
copy() {  # copy TARGET FILE...: the files that exist, into the target's seeds
    local target=$1
    shift
    mkdir -p "$seeds/$target"
    for f in "$@"; do [ -f "$f" ] && cp "$f" "$seeds/$target/"; done
    return 0
}
copy fuzz_experiment "$src"/tests/data/experiments/*.toml "$src"/examples/*.toml
copy fuzz_energibridge "$src"/tests/data/energibridge/*.csv
for dir in "$src"/fuzz/seeds/*/; do copy "$(basename "$dir")" "$dir"*; done

dict_of() {
    case $1 in
        fuzz_experiment) echo toml ;;
        fuzz_energibridge | fuzz_analyze_csv) echo csv ;;
        fuzz_measure_json | fuzz_cap_journal | fuzz_ssh_output) echo json ;;
        *) echo "" ;;
    esac
}

failed=()
printf '%-18s %12s %9s %8s %8s %8s\n' target executions exec/s cov ft corpus
for target in "$@"; do
    corpus=$cache/corpus/$target
    log=$cache/logs/$target.log
    mkdir -p "$corpus" "$seeds/$target"
    args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
          -artifact_prefix="$cache/artifacts/$target-")
    dict=$(dict_of "$target")
    [ -n "$dict" ] && args+=(-dict="$src/fuzz/dict/$dict.dict")
    before=$(find "$corpus" -type f | wc -l)
    "$bin/$target" "${args[@]}" "$corpus" "$seeds/$target" >"$log" 2>&1
    status=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    after=$(find "$corpus" -type f | wc -l)
    printf '%-18s %12s %9s %8s %8s %8s\n' "$target" "${execs:--}" "${rate:--}" "${cov:--}" \
        "${ft:--}" "$after (+$((after - before)))"
    if [ "$status" -ne 0 ]; then
        failed+=("$target")
        echo "---- $target failed (exit $status); from $log:"
        grep -a -m1 -A24 -E 'fuzz finding|ERROR: |runtime error|terminate called|Assertion' "$log" |
            grep -av '^    #[0-9]* 0x[0-9a-f]* in fuzzer::'
        grep -a -E '^(artifact_prefix|Base64)' "$log"
        ls -1 "$cache/artifacts/$target-"* 2>/dev/null
        echo "----"
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: failed: ${failed[*]} (reproduce: build-fuzz/fuzz/TARGET ARTIFACT)"
    exit 1
fi
