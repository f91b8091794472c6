# Shared by the benchmark scripts: build, start the demo portal pinned to one core beside the
# bare no-op server it is measured against, sign in through the demo identity provider exactly
# as a browser does, run wrk (or oha at a fixed rate) on another core.
# Loopback only; every process started here is stopped on exit.

set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

need() { command -v "$1" >/dev/null 2>&1 || { echo "benchmark needs $1 (run tests/run once to install it)" >&2; exit 1; }; }
need wrk; need curl; need python3; need taskset

# The portal and the bare no-op server (examples/bare_noop.rs) it is measured against.
build_release() { (cd "$repo" && cargo build --release --quiet --bins --example bare_noop --example paced_load); }
noop_bin() { echo "$repo/target/release/examples/bare_noop"; }

# start_noop NAME WORKERS [BYTES]: the bare no-op server on core 0, as the portal is; with
# BYTES it also answers GET /static with a body of that many bytes. Its port goes to the
# variable NAME and its pid to NAME_pid.
start_noop() {
  local p; p=$(free_port)
  taskset -c 0 "$(noop_bin)" "127.0.0.1:$p" "$2" ${3:+"$3"} >/dev/null 2>"$work/$1.err" &
  pids+=($!)
  printf -v "$1_pid" '%s' "$!"
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$p/noop" >/dev/null && { printf -v "$1" '%s' "$p"; return 0; }
    sleep 0.1
  done
  echo "the bare no-op server did not start: $(cat "$work/$1.err")" >&2; exit 1
}

# oha (fixed-rate load with latency correction): installed from crates.io when missing.
oha_bin() {
  if command -v oha >/dev/null 2>&1; then command -v oha; return; fi
  if [ ! -x "$HOME/.cargo/bin/oha" ]; then
    echo "installing oha (cargo install oha --locked) for the fixed-rate runs" >&2
    cargo install oha --locked --quiet >&2
  fi
  echo "$HOME/.cargo/bin/oha"
}

# fixed_rate URL CONNECTIONS SECONDS RATE [HEADER]: oha on core 1 at RATE req/s with latency
# correction (a request's latency counts from when it was due, so a stall is not hidden by
# the requests it held back); prints "rps p50_ms p99_ms".
fixed_rate() {
  local url="$1" c="$2" d="$3" rate="$4" header="${5:-}" oha; oha=$(oha_bin)
  local args=(-z "${d}s" -c "$c" -q "$rate" --latency-correction --no-tui --output-format json)
  if [ -n "$header" ]; then args+=(-H "$header"); fi
  taskset -c 1 "$oha" "${args[@]}" "$url" | EXPECT="${EXPECT:-2xx}" python3 -c '
import json, os, sys
r = json.load(sys.stdin)
rps = r["summary"]["requestsPerSec"]
p50, p99 = (r["latencyPercentiles"][k] * 1000 for k in ("p50", "p99"))
codes = r.get("statusCodeDistribution", {})
if os.environ["EXPECT"] == "2xx" and any(not k.startswith("2") for k in codes):
    sys.exit(f"oha saw non-2xx answers: {codes}")
print(f"{rps:.0f} {p50:.3f} {p99:.3f}")'
}

# steal_mark: the machine's stolen and total CPU ticks so far (/proc/stat), for steal_since.
steal_mark() { awk '/^cpu /{print $9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }
# steal_since MARK: the share of CPU time the hypervisor gave to other guests since MARK, in %.
# A tail of milliseconds at a few percent of steal is the VM's, not the server's.
steal_since() { echo "$1 $(steal_mark)" | awk '{d = $4 - $2; printf "%.1f\n", (d > 0 ? 100 * ($3 - $1) / d : 0)}'; }

# paced URL CONNECTIONS SECONDS RATE [HEADER]: the same fixed-rate run as fixed_rate with
# examples/paced_load.rs on core 1, which sends each request the moment it is due (oha paces
# with millisecond timers, in bursts) and counts latency from then; prints
# "rps p50_ms p99_ms steal_%". Non-2xx answers are an error unless EXPECT=any.
paced() {
  local url="$1" c="$2" d="$3" rate="$4" header="${5:-}" mark out
  mark=$(steal_mark)
  out=$(taskset -c 1 "$repo/target/release/examples/paced_load" "$url" "$rate" "$c" "$d" ${header:+"$header"}) || exit 1
  set -- $out
  if [ "${EXPECT:-2xx}" = 2xx ] && [ "$4" != 0 ]; then echo "paced_load saw $4 non-2xx answers from $url" >&2; exit 1; fi
  echo "$1 $2 $3 $(steal_since "$mark")"
}

# unbounded URL CONNECTIONS SECONDS: oha on core 1 as fast as it can (what the fixed-rate runs'
# client can do); prints "rps p50_ms p99_ms".
unbounded() {
  local oha; oha=$(oha_bin)
  taskset -c 1 "$oha" -z "${3}s" -c "$2" --no-tui --output-format json "$1" | python3 -c '
import json, sys
r = json.load(sys.stdin)
rps = r["summary"]["requestsPerSec"]
p50, p99 = (r["latencyPercentiles"][k] * 1000 for k in ("p50", "p99"))
print(f"{rps:.0f} {p50:.3f} {p99:.3f}")'
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_demo PORT DB: the demo portal on core 0.
start_demo() {
  RUST_LOG=warn taskset -c 0 "$repo/target/release/teamportal" demo --listen "127.0.0.1:$1" --database "$2" >"$work/demo.out" 2>"$work/demo.err" &
  pids+=($!)
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$1/livez" >/dev/null && return 0; sleep 0.1; done
  echo "the demo portal did not start: $(cat "$work/demo.err")" >&2; exit 1
}

stop_all() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
}

# sign_in PORT EMAIL JAR: the demo sign-in through the real pages; leaves the session in JAR.
sign_in() {
  local base="http://127.0.0.1:$1" email="$2" jar="$3"
  local csrf loc cb
  csrf=$(curl -s -c "$jar" -b "$jar" "$base/login" | grep -o 'name="csrf_token" value="[^"]*"' | head -1 | sed 's/.*value="//;s/"$//')
  loc=$(curl -s -c "$jar" -b "$jar" -X POST "$base/login/sso" --data-urlencode "csrf_token=$csrf" --data-urlencode "team_id=demo" -o /dev/null -w '%{redirect_url}')
  curl -s -c "$jar" -b "$jar" "$loc" >"$work/idp.html"
  local form
  form=$(EMAIL="$email" python3 - "$work/idp.html" <<'PY'
import html, os, re, sys, urllib.parse
page = open(sys.argv[1]).read()
for f in page.split("<form")[1:]:
    pairs = [(k, html.unescape(v)) for k, v in re.findall(r'name="([^"]+)" value="([^"]*)"', f)]
    if dict(pairs).get("account") == os.environ["EMAIL"]:
        print(urllib.parse.urlencode(pairs)); break
PY
)
  cb=$(curl -s -c "$jar" -b "$jar" -X POST "$base/demo-idp/authorize" --data "$form" -o /dev/null -w '%{redirect_url}')
  curl -s -c "$jar" -b "$jar" "$cb" -o /dev/null
  [ "$(curl -s -b "$jar" -o /dev/null -w '%{http_code}' "$base/team")" = 200 ] || { echo "sign-in failed" >&2; exit 1; }
}

# cookie_header JAR: the session cookie as a header line for wrk.
cookie_header() { awk '$6=="teamportal" {print "Cookie: teamportal=" $7}' "$1"; }

# measure URL CONNECTIONS SECONDS [HEADER...]: one wrk run on core 1; prints "rps p50_ms p99_ms".
# Empty HEADER arguments are skipped. Non-2xx answers are an error unless EXPECT=any (a run
# meant to be refused).
measure() {
  local url="$1" c="$2" d="$3" out h
  shift 3
  local headers=()
  for h in "$@"; do if [ -n "$h" ]; then headers+=(-H "$h"); fi; done
  out=$(taskset -c 1 wrk -t1 -c"$c" -d"${d}s" --latency "${headers[@]}" "$url")
  if [ "${EXPECT:-2xx}" = 2xx ] && echo "$out" | grep -q "Non-2xx"; then echo "wrk saw errors for $url:" >&2; echo "$out" >&2; exit 1; fi
  python3 - "$out" <<'PY'
import re, sys
out = sys.argv[1]
def ms(label):
    m = re.search(r"^\s*" + label + r"\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    v, unit = float(m.group(1)), m.group(2)
    return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
print(f"{rps:.0f} {ms('50%'):.3f} {ms('99%'):.3f}")
PY
}

# median_of "a b c" column N from several lines on stdin.
median() { python3 -c 'import statistics,sys; col=int(sys.argv[1]); print(statistics.median(float(l.split()[col]) for l in sys.stdin if l.strip()))' "$1"; }
