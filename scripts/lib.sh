#!/usr/bin/env bash
# Sourced by scripts/test.sh (step, summary) and scripts/demo.sh (wait_for_record): counted steps with one closing
# line, and the wait for a record to reach audit.log (auditd flushes asynchronously; tests/live/livelib.py's
# wait_for_lines is the same for the pytest suites).

passed=0
failed=0
failed_names=()
step_times=()
over_budget=()
skipped=()

# step NAME BUDGET COMMAND...: runs COMMAND and counts it as passed or failed; never stops the script. BUDGET is the
# seconds the step may take on a fresh machine (CI has 90 minutes for all): a step over it is named in the summary,
# so that CI time is watched, without failing it (how long a step takes is no test result).
step() {
  local name=$1 budget=$2 started=$SECONDS took
  shift 2
  echo
  echo "=== $name: $*"
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    failed_names+=("$name")
  fi
  took=$((SECONDS - started))
  step_times+=("$(printf '%-26s %5d s of %5d s' "$name" "$took" "$budget")")
  [ "$took" -le "$budget" ] || over_budget+=("$name")
}

# skip NAME REASON: a step that cannot run here, named with the reason in the summary (neither passed nor failed).
skip() {
  echo
  echo "=== $1: skipped: $2"
  skipped+=("$1 ($2)")
}

# summary LABEL: prints each step's time, then "LABEL: N passed, N failed" (the line CI reads, last), and returns
# non-zero on any failure.
summary() {
  echo
  echo "time per step (of its budget), $SECONDS s in all:"
  printf '  %s\n' "${step_times[@]}"
  [ "${#over_budget[@]}" -eq 0 ] || echo "over budget: ${over_budget[*]}"
  [ "${#skipped[@]}" -eq 0 ] || printf 'skipped: %s\n' "${skipped[@]}"
  [ "$failed" -eq 0 ] || echo "failed: ${failed_names[*]}"
  echo "$1: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

# wait_for_record TEXT: prints the raw USYS_CONFIG lines holding TEXT once any reached audit.log (5 s at most).
wait_for_record() {
  local found="" _try
  for _try in $(seq 1 50); do
    found=$(ausearch --input-logs -m USYS_CONFIG --raw 2>/dev/null | grep -F -- "$1" || true)
    [ -n "$found" ] && break
    sleep 0.1
  done
  [ -n "$found" ] || return 1
  printf '%s\n' "$found"
}
