#!/usr/bin/env bash
# Benchmark: SCIM provisioning as an IdP's first sync does it. 10,000 users created with
# POST /scim/v2/Users (Okta's body, 16 connections), then the full list read the way Okta
# imports it (GET /Users?startIndex=N&count=100, one page after another), then GET /team of
# the 10,000-member team next to /livez in the same rounds (the team page must stay as fast as
# `benches/team_page.sh` finds it). Server on core 0, the client on core 1; requests per
# second and p99 printed.
#   benches/scim.sh [users] [connections]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
users="${1:-10000}"
conns="${2:-16}"
build_release
port=$(free_port); db="$work/demo.db"; base="http://127.0.0.1:$port"
start_demo "$port" "$db"
jar="$work/jar"; sign_in "$port" admin@demo.test "$jar"
csrf=$(curl -s -b "$jar" -c "$jar" "$base/settings/scim" | grep -o 'name="csrf_token" value="[^"]*"' | head -1 | sed 's/.*value="//;s/"$//')
token=$(curl -s -b "$jar" -c "$jar" -X POST "$base/settings/scim/token" --data-urlencode "csrf_token=$csrf" \
  | grep -o 'id="scim-token" type="text" readonly value="[^"]*"' | sed 's/.*value="//;s/"$//')
[ -n "$token" ] || { echo "no SCIM token from /settings/scim" >&2; exit 1; }

TOKEN="$token" taskset -c 1 python3 - "$port" "$users" "$conns" <<'PY'
import http.client, json, os, statistics, sys, threading, time
port, users, conns = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
headers = {"Authorization": "Bearer " + os.environ["TOKEN"], "Content-Type": "application/scim+json"}
def body(i):
    email = f"user{i:05d}@demo.test"
    return json.dumps({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": email,
        "name": {"givenName": "User", "familyName": f"N{i}"}, "emails": [{"primary": True, "value": email, "type": "work"}],
        "displayName": f"User N{i}", "externalId": f"00u{i}", "groups": [], "password": "x-Pa55word", "active": True})
def p99(xs):
    xs = sorted(xs); return xs[min(len(xs) - 1, int(len(xs) * 0.99))] * 1000
lat, errors, lock, next_i = [], [], threading.Lock(), [0]
def worker():
    c = http.client.HTTPConnection("127.0.0.1", port)
    while True:
        with lock:
            i = next_i[0]; next_i[0] += 1
        if i >= users: return
        t = time.perf_counter()
        c.request("POST", "/scim/v2/Users", body(i), headers)
        r = c.getresponse(); r.read()
        d = time.perf_counter() - t
        with lock:
            lat.append(d)
            if r.status != 201: errors.append(r.status)
start = time.perf_counter()
threads = [threading.Thread(target=worker) for _ in range(conns)]
for t in threads: t.start()
for t in threads: t.join()
took = time.perf_counter() - start
print(f"POST /scim/v2/Users  {users} users, {conns} connections: {users / took:.0f} req/s, "
      f"p50 {statistics.median(lat) * 1000:.2f} ms, p99 {p99(lat):.2f} ms, {took:.1f} s, {len(errors)} errors")
if errors: sys.exit(1)
c = http.client.HTTPConnection("127.0.0.1", port)
lat, seen, start_index, total = [], 0, 1, None
start = time.perf_counter()
while total is None or start_index <= total:
    t = time.perf_counter()
    c.request("GET", f"/scim/v2/Users?startIndex={start_index}&count=100", headers=headers)
    r = c.getresponse(); page = json.loads(r.read())
    lat.append(time.perf_counter() - t)
    total = page["totalResults"]; seen += page["itemsPerPage"]; start_index += 100
took = time.perf_counter() - start
print(f"GET  /scim/v2/Users  full list of {seen} at 100 a page: {len(lat)} pages in {took:.2f} s, "
      f"{len(lat) / took:.0f} pages/s, p50 {statistics.median(lat) * 1000:.2f} ms, p99 {p99(lat):.2f} ms")
if seen != total: sys.exit(f"listed {seen} of {total}")
PY

cookie=$(cookie_header "$jar")
results="$work/team"; : >"$results"
for round in 1 2 3; do
  for path in /livez /team; do
    echo "$round $path $(measure "$base$path" 32 5 "$cookie")" >>"$results"
  done
done
python3 - "$results" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    rnd, path, rps, p50, p99 = line.split()
    runs.setdefault(path, {})[int(rnd)] = (float(rps), float(p50), float(p99))
for path, by in runs.items():
    med = lambda i: statistics.median(v[i] for v in by.values())
    ratio = statistics.median(by[r][0] / runs["/livez"][r][0] for r in by)
    print(f"GET {path:<7} after SCIM provisioning: {med(0):.0f} req/s, p50 {med(1):.3f} ms, p99 {med(2):.3f} ms, {ratio:.3f} of /livez")
PY
