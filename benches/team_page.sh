#!/usr/bin/env bash
# Benchmark: GET /team (first page) and GET /team?q=... for the demo team seeded with 1,000
# and then 10,000 members, at 32 connections, next to a bare actix-web no-op server
# (examples/bare_noop.rs, one worker, like the demo pinned to one core) measured in the same
# rounds (issue 17: /team of 10,000 members at least 0.25 of the no-op, p99 under 10 ms).
# Server on core 0, wrk on core 1. /team is asked for as Chromium asks (Accept-Encoding: gzip,
# deflate, br, zstd), so it comes gzip-compressed, and again without Accept-Encoding (HTML as
# it is). The portal's own GET /livez is measured too, with the admin's session cookie (the
# same session middleware as /team) and without any cookie; each round measures every URL
# once, each page is compared with the no-op (and the faster /livez) of its own round, and
# medians over the rounds are printed. A second bare server (examples/bare_noop.rs with
# BYTES) sends a static body as long as the gzip page, so the transfer's own cost is told
# apart from the portal's work.
#   benches/team_page.sh [seconds-per-run] [rounds]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
secs="${1:-10}"
rounds="${2:-5}"
conns=32
query="garcia"   # one surname among 40: about 1 member in 40 matches
build_release
port=$(free_port); db="$work/demo.db"; base="http://127.0.0.1:$port"
start_demo "$port" "$db"; stop_all   # creates the schema and the demo team

# seed_to N: adds members to the demo team until it has N (the demo admin, who signs in
# after, included). Realistic names and emails, a few admins, 1 in 100 removed.
seed_to() {
  python3 - "$db" "$1" <<'PY'
import random, sqlite3, sys, time
db, target = sqlite3.connect(sys.argv[1]), int(sys.argv[2])
have = db.execute("SELECT count(*) FROM users WHERE team_id = 'demo'").fetchone()[0]
admin_there = db.execute("SELECT count(*) FROM users WHERE team_id = 'demo' AND email = 'admin@demo.test'").fetchone()[0]
missing = target - have - (0 if admin_there else 1)
firsts = ["James", "Mary", "Wei", "Fatima", "Olga", "Juan", "Aiko", "Kwame", "Priya", "Lars",
          "Sofia", "Mohammed", "Chen", "Emma", "Noah", "Ana", "Luca", "Yuki", "Omar", "Ines"]
lasts = ["Smith", "Garcia", "Müller", "Nguyen", "Kim", "Rossi", "Silva", "Kowalski", "Haddad",
         "Tanaka", "Okafor", "Johansson", "Dubois", "Novak", "Patel", "Cohen", "Moreau", "Jensen",
         "Lopez", "Schmidt", "Ivanova", "Costa", "Yilmaz", "Murphy", "Fischer", "Santos", "Wang",
         "Ali", "Kumar", "Brown", "Lee", "Martin", "Bernard", "Romero", "Hansen", "Petrov",
         "Sato", "Mensah", "Walsh", "Horvat"]
rng, now = random.Random(target), int(time.time())
rows = []
for i in range(have, have + max(missing, 0)):
    first, last = rng.choice(firsts), rng.choice(lasts)
    email = f"{first}.{last}.{i}@demo.test".lower().replace("ü", "ue")
    removed = rng.random() < 0.01
    admin = not removed and rng.random() < 0.005
    created = now - rng.randrange(400 * 86400)
    rows.append(("demo", "bench-seed", f"bench-{i}", email, f"{first} {last}",
                 "admin" if admin else "member", "manual" if admin else "default", "jit",
                 0 if removed else 1, created, now - rng.randrange(90 * 86400),
                 now - rng.randrange(86400) if removed else None))
db.executemany("""INSERT INTO users (team_id, issuer, subject, email, name, role, role_source,
                  joined_via, active, created_at, last_login_at, removed_at)
                  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""", rows)
db.commit()
n = db.execute("SELECT count(*) FROM users WHERE team_id = 'demo'").fetchone()[0]
hits = db.execute("SELECT count(*) FROM users WHERE team_id = 'demo' AND lower(name) LIKE '%garcia%'").fetchone()[0]
print(f"seeded: {n + (0 if admin_there else 1)} members in team demo ({hits} named Garcia)", file=sys.stderr)
PY
}

bench() {
  local size="$1"
  seed_to "$size"
  start_demo "$port" "$db"
  start_noop noop 1
  local jar="$work/jar-$size"; sign_in "$port" admin@demo.test "$jar"
  local cookie; cookie=$(cookie_header "$jar")
  local browser="Accept-Encoding: gzip, deflate, br, zstd"
  # The transfer alone: a bare server sending a static body as long as this page.
  local bytes plain_bytes
  bytes=$(curl -s -H "$cookie" -H "$browser" "$base/team" | wc -c)
  plain_bytes=$(curl -s -H "$cookie" "$base/team" | wc -c)
  if [ "$(curl -s -o /dev/null -w '%header{content-encoding}' -H "$cookie" -H "$browser" "$base/team")" != gzip ]; then
    echo "/team was not sent gzip-compressed to a browser that takes gzip" >&2; exit 1
  fi
  start_noop static 1 "$bytes"
  local results="$work/results-$size"; : >"$results"
  local steal_start; steal_start=$(steal_mark)
  # Rounds of one run per URL, back to back: each page is compared with the trivial handler
  # measured moments before it, so the machine's drift cancels out of the ratios.
  for round in $(seq 1 "$rounds"); do
    for target in "noop:/noop" "static:/static" "/livez" "nocookie:/livez" "/team" "plain:/team" "/team?q=$query"; do
      local path="${target#nocookie:}" header="$cookie" url accept="$browser"
      if [ "$path" != "$target" ]; then header=""; fi
      if [ "${path#plain:}" != "$path" ]; then path="${path#plain:}"; accept=""; fi
      url="$base$path"
      if [ "${target#noop:}" != "$target" ]; then url="http://127.0.0.1:$noop${target#noop:}"; header=""; fi
      if [ "${target#static:}" != "$target" ]; then url="http://127.0.0.1:$static${target#static:}"; header=""; fi
      echo "$round $target $(measure "$url" "$conns" "$secs" "$header" "$accept")" >>"$results"
    done
  done
  local steal; steal=$(steal_since "$steal_start")
  stop_all
  echo
  echo "team of $size members, $conns connections, $rounds rounds of ${secs}s per URL, medians; /team is $bytes bytes gzip-compressed, $plain_bytes as HTML"
  echo "hypervisor steal during the runs: $steal% of the machine's CPU time (other guests' share of this VM's cores)"
  python3 - "$results" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    rnd, target, rps, p50, p99 = line.split()
    runs.setdefault(target, {})[int(rnd)] = (float(rps), float(p50), float(p99))
def livez(rnd):  # the faster trivial handler of the round
    return max(runs["/livez"][rnd][0], runs["nocookie:/livez"][rnd][0])
def ratio(by_round, base):
    return statistics.median(v[0] / base(r) for r, v in by_round.items())
noop = lambda r: runs["noop:/noop"][r][0]
print(f"{'endpoint':<20} {'req/s':>10} {'p50 ms':>10} {'p99 ms':>10} {'vs no-op':>10} {'vs livez':>10} {'vs livez+cookie':>16}")
for target, by_round in runs.items():
    label = ("/livez (no cookie)" if target.startswith("nocookie:") else "bare no-op" if target.startswith("noop:")
             else "bare, same bytes" if target.startswith("static:") else "/team (no gzip)" if target.startswith("plain:")
             else target)
    med = lambda i: statistics.median(v[i] for v in by_round.values())
    strict = ratio(by_round, livez)
    same_session = ratio(by_round, lambda r: runs["/livez"][r][0])
    vs_noop = ratio(by_round, noop)
    print(f"{label:<20} {med(0):>10.0f} {med(1):>10.3f} {med(2):>10.3f} {vs_noop:>10.3f} {strict:>10.3f} {same_session:>16.3f}")
    # The issue's target is for the team page itself; the search is shown for scale.
    if target == "/team":
        ok = med(2) < 10 and vs_noop >= 0.25
        print(f"  {'meets' if ok else 'MISSES'} the target: p99 {med(2):.2f} ms (< 10), {vs_noop:.3f} of the "
              f"bare no-op of the same round (>= 0.25); {strict:.3f} of the faster /livez, "
              f"{same_session:.3f} of /livez with the same session cookie")
        transfer = ratio(by_round, lambda r: runs["static:/static"][r][0])
        print(f"  {transfer:.3f} of a bare server sending a static body of the same size, which itself reaches "
              f"{ratio(runs['static:/static'], noop):.3f} of the no-op: the transfer's share of the gap")
PY
}

bench 1000
bench 10000
