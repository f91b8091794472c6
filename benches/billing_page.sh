#!/usr/bin/env bash
# Benchmark: GET /billing for a team with 100 tokens and a year of daily usage (issue: render
# under 50 ms median). One connection, 3 runs of 10 s each per URL, medians printed next to
# the trivial GET /livez measured in the same run. Server on core 0, wrk on core 1.
#   benches/billing_page.sh [seconds-per-run]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
secs="${1:-10}"
build_release
port=$(free_port); db="$work/demo.db"
start_demo "$port" "$db"; stop_all   # creates the schema and the demo team

python3 - "$db" <<'PY'
import sqlite3, sys, os, datetime
db = sqlite3.connect(sys.argv[1])
creator = db.execute("SELECT id FROM users WHERE team_id='demo' ORDER BY id LIMIT 1").fetchone()[0]
today = datetime.datetime.now(datetime.timezone.utc).date()
for t in range(100):
    cur = db.execute("INSERT INTO api_tokens (team_id, name, prefix, secret_hash, secret_enc, created_by, created_at) VALUES ('demo', ?, 'tp_xxxx', ?, x'00', ?, 0)",
                     (f"bench-{t:03}", os.urandom(32), creator))
    tid = cur.lastrowid
    db.executemany("INSERT INTO usage_daily (team_id, token_id, day, unit, quantity) VALUES ('demo', ?, ?, 'requests', ?)",
                   [(tid, (today - datetime.timedelta(days=d)).isoformat(), 1000 + d * 7 + t) for d in range(365)])
db.commit()
print("seeded", db.execute("SELECT count(*) FROM usage_daily").fetchone()[0], "usage rows for", db.execute("SELECT count(*) FROM api_tokens").fetchone()[0], "tokens", file=sys.stderr)
PY

start_demo "$port" "$db"
jar="$work/jar"; sign_in "$port" admin@demo.test "$jar"
cookie=$(cookie_header "$jar")
past=$(date -u -d "$(date -u +%Y-%m-01) -6 months" +%Y-%m)
base="http://127.0.0.1:$port"

printf '%-28s %10s %10s %10s\n' endpoint "req/s" "p50 ms" "p99 ms"
for target in "/livez" "/billing" "/billing?month=$past" "/billing/usage.csv?month=$past"; do
  runs=""
  for _ in 1 2 3; do runs+="$(measure "$base$target" 1 "$secs" "$cookie")"$'\n'; done
  printf '%-28s %10.0f %10.3f %10.3f\n' "$target" "$(echo "$runs" | median 0)" "$(echo "$runs" | median 1)" "$(echo "$runs" | median 2)"
done
