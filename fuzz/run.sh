#!/usr/bin/env bash
# Run every fuzz target (or those named) for SECONDS each, one after the
# other, on the committed seed corpus copied to target/fuzz-corpus/<target>
# (which keeps what each run adds; fuzz/corpus stays small). Prints one
# summary line per target and appends it to target/fuzz-logs/history.tsv.
# Exits non-zero when any target found a crash, a timeout or a memory
# blow-up (its input is in fuzz/artifacts/<target>/).
#
#   fuzz/run.sh SECONDS [TARGET...]
#
# FUZZ_CORPUS=DIR runs on DIR/<target> instead; FUZZ_FRESH=1 empties it
# first (make fuzz-smoke: the seeds alone, so it takes the same short time
# however much a machine's grown corpus holds).
set -u -o pipefail

seconds=${1:?usage: fuzz/run.sh SECONDS [TARGET...]}
shift
cd "$(dirname "$0")/.."
root=$(pwd)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(page event rrule html links open)

logs=$root/target/fuzz-logs
mkdir -p "$logs"
history=$logs/history.tsv
[ -s "$history" ] || printf 'date\ttarget\tseconds\tcpu_seconds\texecs\texec_per_s\tcov\tft\tcorpus\tresult\n' >"$history"

(cd fuzz && cargo +nightly fuzz build) || exit 1

status=0
summaries=()
for t in "${targets[@]}"; do
  corpus=$root/${FUZZ_CORPUS:-target/fuzz-corpus}/$t
  [ "${FUZZ_FRESH:-0}" = 1 ] && rm -rf "$corpus"
  mkdir -p "$corpus"
  cp -n fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null || true
  log=$logs/$t.log
  # CPU seconds (user + system) of the run, measured by bash's `time`.
  TIMEFORMAT='%U %S'
  { time (cd fuzz && cargo +nightly fuzz run "$t" "$corpus" -- \
     -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
     -print_final_stats=1 >"$log" 2>&1; echo $? >"$log.rc"); } 2>"$log.time"
  rc=$(cat "$log.rc")
  cpu=$(awk '{printf "%.0f", $1 + $2}' "$log.time")
  done_line=$(grep -aE '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1)
  [ -n "$done_line" ] || done_line=$(grep -aE '^#[0-9]+[[:space:]]' "$log" | tail -1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  [ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' <<<"$done_line")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$done_line")
  files=$(find "$corpus" -type f | wc -l)
  if [ $rc -eq 0 ]; then
    result=ok
  else
    result="FAILED (rc $rc; see $log and fuzz/artifacts/$t/)"
    status=1
  fi
  line="fuzz $t: ${cpu}s CPU, ${execs:-?} execs (${rate:-?}/s), cov ${cov:-?}, ft ${ft:-?}, corpus $files files: $result"
  echo "$line"
  summaries+=("$line")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$t" "$seconds" "$cpu" \
    "${execs:-}" "${rate:-}" "${cov:-}" "${ft:-}" "$files" "$result" >>"$history"
done

echo "---- fuzz summary (${seconds}s per target; logs in target/fuzz-logs/)"
printf '%s\n' "${summaries[@]}"
exit $status
