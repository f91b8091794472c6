#!/usr/bin/env bash
# Measurement: a flood of hostile back-channel logout tokens (POST /sso/{team}/backchannel-
# logout, anonymous) costs the instance no rows: each is refused with 400 before any IdP call
# (alg "none"), no jti is recorded, and the refusals share one rate-limited audit row per
# address and minute. Prints the answers, the time per request (sequential, one connection)
# and what the database holds afterwards.
#   benches/backchannel_refusals.sh [requests]
# TEAMPORTAL_BIN=target/debug/teamportal skips the release build.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
n="${1:-2000}"
bin="${TEAMPORTAL_BIN:-}"
if [ -z "$bin" ]; then build_release; bin="$repo/target/release/teamportal"; fi
port=$(free_port)
cat >"$work/c.toml" <<TOML
[server]
listen = "127.0.0.1:$port"
public_url = "http://127.0.0.1:$port"
workers = 1
[database]
path = "$work/b.db"
[[teams]]
id = "acme"
name = "Acme"
issuer = "http://127.0.0.1:9"
client_id = "portal"
client_secret = "bench-only"
TOML
RUST_LOG=warn taskset -c 0 "$bin" serve --config "$work/c.toml" >/dev/null 2>"$work/serve.err" &
pids+=($!)
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/livez" >/dev/null && break; sleep 0.1; done
PORT="$port" N="$n" DB="$work/b.db" taskset -c 1 python3 - <<'PY'
import base64, http.client, json, os, sqlite3, time
port, n = int(os.environ["PORT"]), int(os.environ["N"])
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
conn = http.client.HTTPConnection("127.0.0.1", port)
codes, start = {}, time.time()
for i in range(n):
    token = b64(b'{"alg":"none"}') + "." + b64(json.dumps({"iss": "x", "jti": str(i)}).encode()) + "."
    conn.request("POST", "/sso/acme/backchannel-logout", "logout_token=" + token,
                 {"Content-Type": "application/x-www-form-urlencoded"})
    r = conn.getresponse(); r.read()
    codes[r.status] = codes.get(r.status, 0) + 1
took = time.time() - start
db = sqlite3.connect(os.environ["DB"])
rows, counted = db.execute("SELECT count(*), coalesce(sum(repeats), 0) FROM audit WHERE action = 'backchannel_logout_refused'").fetchone()
jtis = db.execute("SELECT count(*) FROM logout_jtis").fetchone()[0]
print(f"{n} requests: answers {codes}, {took * 1000 / n:.3f} ms each")
print(f"audit rows {rows} (counting {counted} refusals), jti rows {jtis}")
PY
