#!/usr/bin/env bash
# test_flood.sh: a flood of issuances past a small signing queue
# (SIGNET_SIGN_QUEUE=2, SIGNET_SIGNERS=1) gets 429 overloaded with
# Retry-After at once, while /healthz keeps answering 200 throughout; once the
# flood stops, issuance works again. Then a store too small to hold much:
# 503 unavailable when it is full, /readyz 503, /healthz still 200.
. "$(dirname "$0")/serve_lib.sh"
cd "$T_DIR" || exit 1

check "dev PKI is made" make_pki
write_config
check "server starts with a signing queue of 2 and one signer" \
  start_server SIGNET_SIGN_QUEUE=2 SIGNET_SIGNERS=1
make_csr w
body w.csr >w.json
tok=$(k8s_token ES256 ec1)

check "a flood sees 429 overloaded with Retry-After, and /healthz stays 200" \
  python3 - "$HTTPS_PORT" "$HTTP_PORT" pki/root.crt w.json "$tok" <<'PY'
import collections, http.client, json, ssl, sys, threading, time

https_port, http_port, cafile, body_file, token = sys.argv[1:6]
body = open(body_file, "rb").read()
ctx = ssl.create_default_context(cafile=cafile)
ctx.check_hostname = False
results = collections.Counter()
problems = []
lock = threading.Lock()
start = threading.Barrier(64)

def worker():
    conn = http.client.HTTPSConnection("127.0.0.1", int(https_port), context=ctx, timeout=60)
    conn.connect()
    start.wait()
    for _ in range(6):
        conn.request("POST", "/v1/sign", body=body,
                     headers={"Content-Type": "application/json",
                              "Authorization": "Bearer " + token})
        r = conn.getresponse()
        data = r.read()
        with lock:
            results[r.status] += 1
            if r.status == 429:
                doc = json.loads(data)
                if r.getheader("Retry-After") != "1" or doc["error"] != "overloaded":
                    problems.append(("bad 429", r.getheaders(), data))
            elif r.status != 201:
                problems.append((r.status, data))
    conn.close()

health = []
done = threading.Event()
def prober():
    while not done.is_set():
        c = http.client.HTTPConnection("127.0.0.1", int(http_port), timeout=10)
        t = time.monotonic()
        c.request("GET", "/healthz")
        r = c.getresponse()
        r.read()
        health.append(r.status)
        c.close()
        time.sleep(0.02)

threads = [threading.Thread(target=worker) for _ in range(64)]
p = threading.Thread(target=prober)
p.start()
for t in threads:
    t.start()
for t in threads:
    t.join()
done.set()
p.join()
print("statuses:", dict(results), "healthz probes:", len(health))
assert not problems, problems[:3]
assert results[429] > 0, "no 429 seen"
assert results[201] > 0, "nothing issued"
assert health and all(s == 200 for s in health), health
PY
last_output
expect_eq "issuance works again after the flood" "$(post "$HTTPS_URL/v1/sign" "$tok" w.json o)" 201
curl -s "$HTTP_URL/metrics" >metrics.txt
check "metrics count the 429s" grep -q '^signet_http_requests_total{route="/v1/sign",code="429"} [1-9]' metrics.txt
check "the queue is empty again" grep -q '^signet_signing_queue_depth 0$' metrics.txt
stop_server TERM
expect_eq "SIGTERM exits 0" "$SRV_RC" 0

# ---- A full store answers 503 unavailable; health stays up, readiness not ----
rm -rf db
sed -i 's/"map_size_mb": 64/"map_size_mb": 1/' signet.json
check "server starts with a 1 MiB store" start_server
check "issuing until the store is full ends in 503 unavailable" sign_until_full w.json "$tok"
last_output
expect_eq "/readyz is 503 while the store is full" \
  "$(curl -s -o /dev/null -w '%{http_code}' "$HTTP_URL/readyz")" 503
expect_eq "/healthz is still 200" "$(curl -s -o /dev/null -w '%{http_code}' "$HTTP_URL/healthz")" 200
expect_eq "GET /v1/bundle still works" "$(curl -s -o /dev/null -w '%{http_code}' "$HTTP_URL/v1/bundle")" 200
stop_server TERM
expect_eq "SIGTERM exits 0 with a full store" "$SRV_RC" 0
finish
