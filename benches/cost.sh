#!/usr/bin/env bash
# Benchmark: the server's CPU cost per request in instructions, counted by valgrind's
# callgrind, which is reproducible to a fraction of a percent where req/s on a shared machine
# swings by tens of percent. Issue 16: recording metrics costs verify at most 3%; issue 17:
# the team page's cost per request. Background threads (the usage flusher's once-a-second
# pass, actix's timers) are counted too: their share grows with how long the N requests
# take under valgrind, so compare figures of the same N.
#   benches/cost.sh [verify|team|all] [requests]
# Each server runs under callgrind on an existing database; after a warm-up its counters are
# zeroed (callgrind_control -z), exactly N requests are sent (oha -n N, 4 connections, on
# another core), the counters are dumped (-d) and the instructions of every thread (workers,
# blocking pool, the flush thread) are divided by N. `verify`: a valid token with metering on,
# with and without `[metrics] listen`, and a made-up token, beside the bare no-op. `team`: the
# demo team's `/team` in HTML and in gzip (as seeded: pass TEAM_SIZE=10000 to seed it to that size) and `/livez`
# with the same session cookie. With KEEP=DIR the callgrind files are kept there for
# `callgrind_annotate --inclusive=yes DIR/FILE`.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
need valgrind; need callgrind_control
what="${1:-all}"
n="${2:-2000}"
build_release
bin="$repo/target/release/teamportal"
db="$work/demo.db"
oha=$(oha_bin)

sql() { python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])' "$db" "$1"; }

# under_callgrind NAME CMD...: starts CMD under callgrind on core 0; its pid goes to NAME_pid.
under_callgrind() {
  local name="$1"; shift
  RUST_LOG=warn taskset -c 0 valgrind --tool=callgrind --dump-instr=no --compress-strings=no \
    --callgrind-out-file="$work/cg-$name.%p" "$@" >/dev/null 2>"$work/$name.err" &
  pids+=($!)
  printf -v "${name}_pid" '%s' "$!"
}

# wait_for URL: up to a minute (valgrind starts a program about 50 times slower).
wait_for() {
  for _ in $(seq 1 600); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "no answer from $1" >&2; exit 1
}

# count PID URL [HEADER...]: instructions per request over N requests to URL.
count() {
  local pid="$1" url="$2" header args=(-n "$n" -c 4 --no-tui --redirect 0)
  shift 2
  for header in "$@"; do if [ -n "$header" ]; then args+=(-H "$header"); fi; done
  taskset -c 1 "$oha" "${args[@]:2}" -n 200 "$url" >/dev/null   # warm-up
  callgrind_control -z "$pid" >/dev/null
  taskset -c 1 "$oha" "${args[@]}" "$url" >"$work/oha.out"
  grep -Eq "Success rate:[[:space:]]+100" "$work/oha.out" || { cat "$work/oha.out" >&2; exit 1; }
  # Every answer the expected status (EXPECT, default 200; redirects not followed): a lost
  # cookie or token must not be counted as the page's or verify's cost.
  local codes; codes=$(grep -Eo '^\s*\[[0-9]{3}\]' "$work/oha.out" | tr -d ' []' | sort -u | paste -sd, -)
  if [ "$codes" != "${EXPECT:-200}" ]; then
    echo "$url answered $codes, not ${EXPECT:-200}: not measured" >&2; cat "$work/oha.out" >&2; exit 1
  fi
  rm -f "$work"/cg-*."$pid".*
  callgrind_control -d "$pid" >/dev/null
  # Every thread's part of the dump: "summary:" lines (or "totals:") of the files just written.
  python3 - "$work" "$pid" "$n" <<'PY'
import glob, sys
work, pid, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
total = 0
for f in glob.glob(f"{work}/cg-*.{pid}.*"):
    for line in open(f, errors="replace"):
        if line.startswith("summary:") or line.startswith("totals:"):
            total += int(line.split()[1]); break
print(f"{total / n:.0f}")
PY
  # Each count in its own folder, named after the URL and its last header, so the later
  # counts of the same server do not overwrite it.
  if [ -n "${KEEP:-}" ]; then
    local last="" kept
    if [ $# -gt 0 ]; then last="${!#}"; fi
    kept="$KEEP/$(printf '%s %s' "$url" "$last" | tr -c 'A-Za-z0-9' '_' | cut -c1-100)"
    mkdir -p "$kept"; cp "$work"/cg-*."$pid".* "$kept"/ 2>/dev/null || true
  fi
  rm -f "$work"/cg-*."$pid".*
}

port=$(free_port)
start_demo "$port" "$db"
results=()

if [ "$what" = verify ] || [ "$what" = all ]; then
  stop_all
  printf '[database]\npath = "%s"\n' "$db" >"$work/admin.toml"
  creator=$(sql "SELECT email FROM users WHERE team_id = 'demo' AND active ORDER BY id LIMIT 1")
  secret=$(RUST_LOG=warn "$bin" admin create-token --config "$work/admin.toml" --team demo --name bench --creator "$creator")
  unknown="Authorization: Bearer tp_$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
  serve_cfg() {
    printf '[server]\nlisten = "127.0.0.1:%s"\nworkers = 1\n[database]\npath = "%s"\n[billing]\nmetering = true\n%s\n' "$1" "$db" "${2:-}" >"$work/serve-$1.toml"
    echo "$work/serve-$1.toml"
  }
  p_noop=$(free_port); under_callgrind noop "$(noop_bin)" "127.0.0.1:$p_noop" 1
  p_on=$(free_port); under_callgrind plain "$bin" serve --config "$(serve_cfg "$p_on")"
  p_m=$(free_port); mp=$(free_port)
  under_callgrind metrics "$bin" serve --config "$(serve_cfg "$p_m" "$(printf '[metrics]\nlisten = "127.0.0.1:%s"' "$mp")")"
  wait_for "http://127.0.0.1:$p_noop/noop"; wait_for "http://127.0.0.1:$p_on/livez"; wait_for "http://127.0.0.1:$p_m/livez"
  auth="Authorization: Bearer $secret"
  c_noop=$(count "$noop_pid" "http://127.0.0.1:$p_noop/noop")
  c_on=$(count "$plain_pid" "http://127.0.0.1:$p_on/api/v1/verify" "$auth")
  c_m=$(count "$metrics_pid" "http://127.0.0.1:$p_m/api/v1/verify" "$auth")
  c_unknown=$(EXPECT=401 count "$plain_pid" "http://127.0.0.1:$p_on/api/v1/verify" "$unknown" 2>/dev/null || echo 0)
  moved=$(curl -s "http://127.0.0.1:$mp/metrics" | awk '/^teamportal_verify_requests_total\{outcome="ok"\}/ {print $2}')
  stop_all
  results+=("$(python3 - "$c_noop" "$c_on" "$c_m" "$c_unknown" "$n" "${moved:-0}" <<'PY'
import sys
noop, on, metrics, unknown, n, moved = map(float, sys.argv[1:7])
ok = lambda b: "ok" if b else "MISSED"
print(f"instructions per request (callgrind, {n:.0f} requests each, every thread):")
print(f"  bare no-op                              {noop:>9.0f}")
print(f"  verify, metering on                     {on:>9.0f}   no-op/verify {noop / on:.2f}")
print(f"  verify, metering on + [metrics] listen  {metrics:>9.0f}   (/metrics counted {moved:.0f} ok verifies)")
if unknown:
    print(f"  verify, a made-up token                 {unknown:>9.0f}")
r = (metrics - on) / on
print(f"metrics recording cost on verify (callgrind instructions): {r * 100:+.2f}% (target <= 3%: {ok(r <= 0.03)})")
PY
)")
fi

if [ "$what" = team ] || [ "$what" = all ]; then
  stop_all
  if [ -n "${TEAM_SIZE:-}" ]; then
    python3 - "$db" "$TEAM_SIZE" <<'PY'
import sqlite3, sys, time
db, target = sqlite3.connect(sys.argv[1]), int(sys.argv[2])
have = db.execute("SELECT count(*) FROM users WHERE team_id = 'demo'").fetchone()[0]
now = int(time.time())
db.executemany("""INSERT INTO users (team_id, issuer, subject, email, name, role, role_source,
                  joined_via, active, created_at, last_login_at) VALUES ('demo', 'bench-seed', ?, ?, ?,
                  'member', 'default', 'jit', 1, ?, ?)""",
               [(f"bench-{i}", f"member.{i}@demo.test", f"Member {i:05}", now, now) for i in range(have, target)])
db.commit()
PY
  fi
  port=$(free_port)
  under_callgrind demo "$bin" demo --listen "127.0.0.1:$port" --database "$db"
  wait_for "http://127.0.0.1:$port/livez"
  jar="$work/jar"; sign_in "$port" admin@demo.test "$jar"
  cookie=$(cookie_header "$jar")
  # oha asks for gzip unless told otherwise: the HTML page is asked for as `identity`.
  c_team=$(count "$demo_pid" "http://127.0.0.1:$port/team" "$cookie" "Accept-Encoding: identity")
  c_gzip=$(count "$demo_pid" "http://127.0.0.1:$port/team" "$cookie" "Accept-Encoding: gzip, deflate, br, zstd")
  c_livez=$(count "$demo_pid" "http://127.0.0.1:$port/livez" "$cookie")
  c_bare=$(count "$demo_pid" "http://127.0.0.1:$port/livez")
  stop_all
  members=$(sql "SELECT count(*) FROM users WHERE team_id = 'demo'")
  results+=("$(printf 'instructions per request (callgrind, %s requests each), team of %s members:\n  /team (HTML)               %9s\n  /team (gzip, as Chromium)  %9s\n  /livez with the session    %9s\n  /livez without a cookie    %9s' "$n" "$members" "$c_team" "$c_gzip" "$c_livez" "$c_bare")")
fi

printf '%s\n' "${results[@]}"
