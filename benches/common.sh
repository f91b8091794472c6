# Shared by the benchmark scripts: build, start the demo portal pinned to one core, sign in
# through the demo identity provider exactly as a browser does, run wrk on another core.
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

build_release() { (cd "$repo" && cargo build --release --quiet); }

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

# measure URL CONNECTIONS SECONDS [HEADER]: one wrk run on core 1; prints "rps p50_ms p99_ms".
measure() {
  local url="$1" c="$2" d="$3" header="${4:-}"
  local out
  if [ -n "$header" ]; then
    out=$(taskset -c 1 wrk -t1 -c"$c" -d"${d}s" --latency -H "$header" "$url")
  else
    out=$(taskset -c 1 wrk -t1 -c"$c" -d"${d}s" --latency "$url")
  fi
  if echo "$out" | grep -q "Non-2xx"; then echo "wrk saw errors for $url:" >&2; echo "$out" >&2; exit 1; fi
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
