#!/usr/bin/env bash
# Every acceptance figure of issue 17 and issue 16's metrics line in one command, with short
# defaults (about 9 minutes on two cores), for a re-run on a quiet machine:
#   benches/acceptance.sh [seconds-per-run] [rounds]
# It runs the benchmark scripts one after another (each builds nothing new after the first,
# starts its own servers on core 0 and its clients on core 1, and stops them) and then prints
# their acceptance lines together, each with its target and "ok" or "MISSED":
#   verify.sh     valid and unknown token vs the bare no-op, p99 at a fixed rate of half the
#                 no-op's best, metrics on vs off by req/s and by server CPU per request
#   cost.sh       metrics recording cost on verify in callgrind instructions (reproducible)
#   team_page.sh  /team of 10,000 members vs the bare no-op, p99 at 32 connections
#   startup.sh    cold start to the first /healthz 200, idle RSS
#   signin.sh     the SSO callback's own server time (median, p99)
# Each script's whole output is kept in the folder printed at the end.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
secs="${1:-5}"
rounds="${2:-3}"
out="$(mktemp -d /tmp/teamportal-acceptance.XXXXXX)"
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg) (2 cores: above 1 or so, other work shares the servers' core)"

run() {
  local name="$1"; shift
  local start=$SECONDS
  echo "== $name $* (output in $out/$name.txt)"
  if ! bash "$here/$name.sh" "$@" >"$out/$name.txt" 2>&1; then
    echo "   $name FAILED: the last lines say why:"; tail -5 "$out/$name.txt" | sed 's/^/   /'
  fi
  echo "   $((SECONDS - start)) s"
}

run verify "$secs" "$rounds"
run cost verify 2000
run team_page "$secs" "$rounds"
run startup 5
run signin 100 "$rounds"

echo
echo "acceptance figures (load average now: $(cut -d' ' -f1-3 /proc/loadavg)):"
grep -h -E "target|steal under 0.5|MISSES|meets|counted by|control, two|sign-ins per second|^team of" "$out"/verify.txt "$out"/cost.txt \
  "$out"/team_page.txt "$out"/startup.txt "$out"/signin.txt 2>/dev/null | sed 's/^/  /' || true
echo "whole outputs: $out"
