#!/usr/bin/env bash
# test_serve.sh: `signet serve` end to end on loopback: issuance with
# Kubernetes (ES256, RS256) and provisioner tokens, the SVID checked with
# openssl, renewal over mTLS, two SVIDs in an mTLS handshake, the public
# routes, TLS policy (versions, ciphers, chain), the plain HTTP listener,
# metrics, and a clean exit on SIGTERM.
. "$(dirname "$0")/serve_lib.sh"
cd "$T_DIR" || exit 1

check "dev PKI is made" make_pki
write_config
check "server starts and becomes ready" start_server

# ---- Health and public routes, on both listeners ----
expect_eq "GET /healthz over HTTP is 200 {status: ok}" \
  "$(curl -s "$HTTP_URL/healthz")" '{"status":"ok"}'
expect_eq "GET /readyz over HTTPS is 200" \
  "$(curl -s -o /dev/null -w '%{http_code}' --cacert pki/root.crt "$HTTPS_URL/readyz")" 200
curl -s -o bundle.pem "$HTTP_URL/v1/bundle"
check "GET /v1/bundle is the root" cmp bundle.pem pki/root.crt
curl -s -D bundle.h -o /dev/null "$HTTP_URL/v1/bundle"
check "GET /v1/bundle is application/x-pem-file" grep -qi '^content-type: application/x-pem-file' bundle.h
curl -s -D ca.h -o ca.der "$HTTP_URL/ca.crt"
openssl x509 -in pki/intermediate.crt -outform DER -out inter.der
check "GET /ca.crt is the intermediate in DER" cmp ca.der inter.der
check "GET /ca.crt is application/pkix-cert" grep -qi '^content-type: application/pkix-cert' ca.h
curl -s -o bundle.json "$HTTP_URL/v1/bundle.json"
check "GET /v1/bundle.json is a SPIFFE bundle: one x509-svid key per root, x5c, no kid" \
  python3 - bundle.json pki/root.crt <<'PY'
import base64, json, subprocess, sys
b = json.load(open(sys.argv[1]))
assert isinstance(b["spiffe_sequence"], int) and b["spiffe_refresh_hint"] > 0
(k,) = b["keys"]
assert k["use"] == "x509-svid" and "kid" not in k and k["kty"] == "EC" and k["crv"] == "P-256"
der = subprocess.run(["openssl", "x509", "-in", sys.argv[2], "-outform", "DER"],
                     capture_output=True, check=True).stdout
assert base64.b64decode(k["x5c"][0]) == der and len(k["x5c"]) == 1
x = base64.urlsafe_b64decode(k["x"] + "==")
spki = subprocess.run(["openssl", "x509", "-in", sys.argv[2], "-noout", "-pubkey"],
                      capture_output=True, check=True).stdout
pub = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=spki,
                     capture_output=True, check=True).stdout
assert pub[-64:-32] == x, "x matches the root's public key"
PY

# ---- Plain HTTP serves only the (H) routes ----
make_csr w1
body w1.csr >w1.json
expect_eq "POST /v1/sign over plain HTTP is 404" \
  "$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @w1.json "$HTTP_URL/v1/sign")" 404
expect_eq "POST /v1/renew over plain HTTP is 404" \
  "$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @w1.json "$HTTP_URL/v1/renew")" 404
expect_eq "GET /metrics over plain HTTP is 200" \
  "$(curl -s -o /dev/null -w '%{http_code}' "$HTTP_URL/metrics")" 200

# ---- Issuance with a Kubernetes ES256 token ----
tok=$(k8s_token ES256 ec1 default web)
expect_eq "POST /v1/sign with a Kubernetes ES256 token is 201" "$(post "$HTTPS_URL/v1/sign" "$tok" w1.json r1)" 201
expect_eq "the SVID's SPIFFE ID comes from the token" "$(json_get r1 spiffe_id)" \
  spiffe://example.org/ns/default/sa/web
split_response r1 w1
check "the SVID verifies against the root with the returned chain" \
  openssl verify -CAfile pki/root.crt -untrusted w1.chain.pem w1.crt
openssl x509 -in w1.crt -noout -text >w1.txt
check "the SVID has the URI SAN" grep -q 'URI:spiffe://example.org/ns/default/sa/web' w1.txt
check "the SVID is CA:FALSE" grep -q 'CA:FALSE' w1.txt
check "the SVID has serverAuth and clientAuth" grep -q 'TLS Web Server Authentication, TLS Web Client Authentication' w1.txt
serial=$(openssl x509 -in w1.crt -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f' | sed 's/^0*//')
expect_eq "the serial is lower-case hex without leading zeros" "$(json_get r1 serial)" "$serial"
check "the chain field is the intermediate" cmp w1.chain.pem pki/intermediate.crt
check "the bundle field is the root" python3 -c 'import json,sys; assert json.load(open("r1"))["bundle"] == open("pki/root.crt").read()'
check "renew_after lies between not_before and not_after" python3 - r1 <<'PY'
import json, sys, datetime
r = json.load(open(sys.argv[1]))
t = lambda s: datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ")
nb, na, ra = t(r["not_before"]), t(r["not_after"]), t(r["renew_after"])
assert nb < ra < na
life = (na - nb).total_seconds() - 60
assert abs((ra - nb).total_seconds() - 60 - life / 2) <= life * 0.1 + 1
PY
check "the response carries HSTS" grep -qi '^strict-transport-security: max-age=31536000' r1.h
check "the response carries nosniff" grep -qi '^x-content-type-options: nosniff' r1.h
check "the response is Cache-Control: no-store" grep -qi '^cache-control: no-store' r1.h

# ---- RS256, provisioner tokens, ttl ----
make_csr w2
body w2.csr 10m >w2.json
expect_eq "POST /v1/sign with a Kubernetes RS256 token is 201" \
  "$(post "$HTTPS_URL/v1/sign" "$(k8s_token RS256 rsa1 prod api)" w2.json r2)" 201
expect_eq "RS256: SPIFFE ID from the token" "$(json_get r2 spiffe_id)" spiffe://example.org/ns/prod/sa/api
split_response r2 w2
check "ttl 10m gives a 10-minute SVID (plus 60 s backdating)" python3 - r2 <<'PY'
import json, sys, datetime
r = json.load(open(sys.argv[1]))
t = lambda s: datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ")
assert (t(r["not_after"]) - t(r["not_before"])).total_seconds() == 660
PY
make_csr w3 -addext "subjectAltName=DNS:db.localhost,URI:spiffe://example.org/db"
body w3.csr 10h >w3.json
ptok=$(prov_token spiffe://example.org/db db.localhost)
expect_eq "POST /v1/sign with a provisioner token is 201" "$(post "$HTTPS_URL/v1/sign" "$ptok" w3.json r3)" 201
split_response r3 w3
check "the provisioner's DNS name is in the SVID" sh -c 'openssl x509 -in w3.crt -noout -ext subjectAltName | grep -q "DNS:db.localhost"'
expect_eq "dns_names lists it" "$(json_get r3 dns_names)" db.localhost
check "ttl is capped by the provisioner's max_ttl (2h)" python3 - r3 <<'PY'
import json, sys, datetime
r = json.load(open(sys.argv[1]))
t = lambda s: datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ")
assert (t(r["not_after"]) - t(r["not_before"])).total_seconds() <= 2 * 3600 + 60
PY

# ---- Renewal over mTLS ----
make_csr w1b
body w1b.csr >w1b.json
expect_eq "POST /v1/renew with the SVID as client certificate is 201" \
  "$(post "$HTTPS_URL/v1/renew" "" w1b.json r1b --cert w1.crt --key w1.key)" 201
split_response r1b w1b
expect_eq "renewal keeps the SPIFFE ID" "$(json_get r1b spiffe_id)" spiffe://example.org/ns/default/sa/web
check "the renewed SVID is for the new key" sh -c '[ "$(openssl x509 -in w1b.crt -noout -pubkey)" = "$(openssl pkey -in w1b.key -pubout)" ]'
expect_eq "renewal keeps the DNS names" "$(post "$HTTPS_URL/v1/renew" "" w1b.json r3b --cert w3.crt --key w3.key; json_get r3b dns_names)" 201db.localhost

# ---- Two SVIDs complete an mTLS handshake, each seeing the other's ID ----
cat w1.crt w1.chain.pem >w1.full
read -r mport <<<"$(free_ports 1)"
openssl s_server -accept "127.0.0.1:$mport" -cert w1.crt -key w1.key -cert_chain w1.chain.pem \
  -CAfile bundle.pem -Verify 2 -verify_return_error -www -naccept 1 >sserver.log 2>&1 &
spid=$!
for _ in $(seq 1 50); do grep -q ACCEPT sserver.log && break; sleep 0.1; done
printf 'GET / HTTP/1.0\r\n\r\n' | openssl s_client -connect "127.0.0.1:$mport" -CAfile bundle.pem \
  -cert w2.crt -key w2.key -cert_chain w1.chain.pem -verify_return_error -showcerts -ign_eof >sclient.log 2>&1
wait "$spid"
check "the client verified the server SVID" grep -q 'Verify return code: 0 (ok)' sclient.log
check "the client saw the server's SPIFFE ID" sh -c "sed -n '/BEGIN CERT/,/END CERT/p' sclient.log | openssl x509 -noout -ext subjectAltName | grep -q spiffe://example.org/ns/default/sa/web"
check "the server verified the client SVID and saw its SPIFFE ID" grep -q 'URI:spiffe://example.org/ns/prod/sa/api' sclient.log

# ---- TLS policy ----
echo | openssl s_client -connect "127.0.0.1:$HTTPS_PORT" -CAfile pki/root.crt -showcerts >tls.log 2>&1
expect_eq "the full chain is sent (leaf and intermediate)" "$(grep -c 'BEGIN CERTIFICATE' tls.log)" 2
check "the server certificate verifies against the root" grep -q 'Verify return code: 0 (ok)' tls.log
check "the server certificate is spiffe://example.org/signet/server with localhost and 127.0.0.1" \
  sh -c "openssl s_client -connect 127.0.0.1:$HTTPS_PORT </dev/null 2>/dev/null | openssl x509 -noout -ext subjectAltName | tr -d '\n' | grep -q 'URI:spiffe://example.org/signet/server, DNS:localhost, IP Address:127.0.0.1'"
check "TLS 1.1 is refused" sh -c "! openssl s_client -connect 127.0.0.1:$HTTPS_PORT -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' </dev/null >/dev/null 2>&1"
check "a CBC cipher is refused" sh -c "! openssl s_client -connect 127.0.0.1:$HTTPS_PORT -tls1_2 -cipher 'ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384:AES128-SHA' </dev/null >/dev/null 2>&1"
check "RSA key exchange is refused" sh -c "! openssl s_client -connect 127.0.0.1:$HTTPS_PORT -tls1_2 -cipher 'AES128-GCM-SHA256' </dev/null >/dev/null 2>&1"
check "TLS 1.2 with ECDHE-ECDSA-AES128-GCM is accepted" sh -c "openssl s_client -connect 127.0.0.1:$HTTPS_PORT -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256 </dev/null 2>&1 | grep -q 'Cipher is ECDHE-ECDSA-AES128-GCM-SHA256'"
check "TLS 1.2 offering only SHA-1 signatures is refused" sh -c "! openssl s_client -connect 127.0.0.1:$HTTPS_PORT -tls1_2 -sigalgs 'ECDSA+SHA1:RSA+SHA1' -cipher 'ECDHE-ECDSA-AES128-GCM-SHA256:@SECLEVEL=0' </dev/null >/dev/null 2>&1"
check "no SHA-1 signature is asked of client certificates" sh -c "openssl s_client -connect 127.0.0.1:$HTTPS_PORT -tls1_2 </dev/null 2>&1 | grep '^Requested Signature Algorithms: .*ECDSA+SHA256' | grep -vq SHA1"
check "TLS 1.3 is accepted" sh -c "openssl s_client -connect 127.0.0.1:$HTTPS_PORT -tls1_3 </dev/null 2>&1 | grep -q 'TLSv1.3'"

# ---- Keep-alive ----
# keep_alive URL...: curl fetches every URL over one connection (curl -v says
# "Re-using existing connection" for each one after the first) and no answer
# says Connection: close.
keep_alive() {
  local n=$#
  curl -sv --cacert pki/root.crt -o /dev/null "$@" >ka.log 2>&1 &&
    [ "$(grep -c 'Re-using existing connection' ka.log)" -eq $((n - 1)) ] &&
    ! grep -qi '^< connection: close' ka.log
}
check "GET answers keep the connection open (plain HTTP: health, CA, CRL, bundle, metrics, 404)" \
  keep_alive "$HTTP_URL/healthz" "$HTTP_URL/readyz" "$HTTP_URL/ca.crt" "$HTTP_URL/crl" \
  "$HTTP_URL/v1/bundle.json" "$HTTP_URL/metrics" "$HTTP_URL/no-such-route" "$HTTP_URL/healthz"
check "GET answers keep the connection open (HTTPS)" \
  keep_alive "$HTTPS_URL/healthz" "$HTTPS_URL/v1/bundle" "$HTTPS_URL/no-such-route" "$HTTPS_URL/healthz"
# A body sent to a route that takes none is read and dropped, up to 1 MiB:
# a larger declared one is refused with 413 at once, before any of it is
# read; a larger chunked one is cut off without an answer.
head -c 4096 /dev/zero >body4k
head -c $((2 * 1024 * 1024)) /dev/zero >body2m
expect_eq "GET /healthz with a 4 KiB body is answered 200 (the body is dropped)" \
  "$(curl -s -o /dev/null -w '%{http_code}' -X GET --data-binary @body4k "$HTTP_URL/healthz")" 200
# The client declares 2 MiB and sends none of it: the 413 must come from the
# header alone, and the server then closes. (A client that pushes the body
# anyway races the close: the kernel resets a socket closed with unread
# data, and that reset can destroy the 413 before the client reads it. A
# client sending "Expect: 100-continue", as curl does for large bodies,
# waits for the answer and never pushes it.)
declared_2m() {
  python3 - "${HTTP_URL#http://127.0.0.1:}" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          b"Content-Length: 2097152\r\n\r\n")
got = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break  # the server closed the connection
    got += chunk
status = got.split(b"\r\n", 1)[0].split(b" ")
body = got.split(b"\r\n\r\n", 1)[-1]
print(status[1].decode(errors="replace") if len(status) > 1 else "none",
      b'"payload_too_large"' in body)
PY
}
expect_eq "GET /healthz declaring a 2 MiB body is 413 at once, and the connection closed" \
  "$(declared_2m)" "413 True"
expect_eq "the same with curl's Expect: 100-continue is 413, the body never sent" \
  "$(curl -s -o /dev/null -w '%{http_code} %{size_upload}' -H 'Expect: 100-continue' -X GET \
    --data-binary @body2m "$HTTP_URL/healthz")" "413 0"
expect_eq "GET /healthz with a chunked 2 MiB body is cut off without an answer" \
  "$(curl -s -o /dev/null -w '%{http_code}' -H 'Expect:' -H 'Transfer-Encoding: chunked' -X GET \
    --data-binary @body2m "$HTTP_URL/healthz")" 000
expect_eq "then /healthz is still 200" "$(curl -s -o /dev/null -w '%{http_code}' "$HTTP_URL/healthz")" 200

# ---- Metrics and logs ----
curl -s "$HTTP_URL/metrics" >metrics.txt
check "metrics count the Kubernetes issuances" grep -q '^signet_issuances_total{method="kubernetes"} 2$' metrics.txt
check "metrics count the mTLS issuances" grep -q '^signet_issuances_total{method="mtls"} 2$' metrics.txt
check "metrics count 201s on /v1/sign" grep -q '^signet_http_requests_total{route="/v1/sign",code="201"} 3$' metrics.txt
check "metrics have the duration histogram" grep -q '^signet_http_request_duration_seconds_bucket{route="/v1/sign",le="+Inf"} 3$' metrics.txt
check "metrics have the intermediate's expiry" grep -q '^signet_intermediate_expiry_seconds [1-9]' metrics.txt
check "metrics have the commit batch size" grep -q '^signet_store_commit_batch_size ' metrics.txt
# Five issuances so far (three signs, two renewals), each timed through all
# three stages; a synced commit takes time, so its sum is above zero.
for stage in queue sign commit; do
  check "metrics time the $stage stage of the five issuances" \
    grep -q "^signet_issuance_stage_seconds_count{stage=\"$stage\"} 5\$" metrics.txt
  check "the $stage stage's +Inf bucket holds them all" \
    grep -q "^signet_issuance_stage_seconds_bucket{stage=\"$stage\",le=\"+Inf\"} 5\$" metrics.txt
done
check "the commit stage took some time" \
  grep -Eq '^signet_issuance_stage_seconds_sum\{stage="commit"\} (0\.0*[1-9]|[1-9])' metrics.txt
check "each request is one JSON log line with route and status" python3 - server.log <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
reqs = [l for l in lines if "route" in l]
assert any(l["route"] == "/v1/sign" and l["status"] == 201 and l["serial"] for l in reqs)
assert all({"ts", "level", "request_id", "status", "ms"} <= set(l) for l in reqs)
PY
check "each request line names the client's address (127.0.0.1 here)" python3 - server.log <<'PY'
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{") and '"route"' in l]
assert reqs and all(l.get("client") == "127.0.0.1" for l in reqs), reqs[:3]
PY
check "no token, key or CSR reaches the log" sh -c "! grep -qE 'eyJ|BEGIN|Bearer' server.log"

# ---- One server per address ----
# A second server on the same ports (here with a store of its own) must not
# start: two processes sharing a port would split issuances, revocations and
# CRLs between two stores.
python3 - signet.json second.json <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["store"]["path"] = c["store"]["path"] + "-second"
json.dump(c, open(sys.argv[2], "w"))
PY
timeout 60 "$SIGNET_BIN" serve --config second.json >second.out 2>&1
expect_eq "a second server on the same ports exits 1" "$?" 1
check "it names the address it cannot listen on" grep -q "listen.https: cannot listen on" second.out
check "the first server still answers" curl -fs "$HTTP_URL/healthz"

# ---- Graceful stop ----
stop_server TERM
expect_eq "SIGTERM exits 0" "$SRV_RC" 0

# ---- tls.cert / tls.key name files instead ----
cat w3.crt w3.chain.pem >w3.full
python3 - signet.json <<'PY2'
import json, sys
c = json.load(open(sys.argv[1]))
c["tls"] = {"cert": "w3.full", "key": "w3.key"}
json.dump(c, open(sys.argv[1], "w"))
PY2
check "server starts with tls.cert and tls.key" start_server
served=$(openssl s_client -connect "127.0.0.1:$HTTPS_PORT" </dev/null 2>/dev/null | openssl x509 -noout -serial)
expect_eq "the served certificate is the one in tls.cert" "$served" "$(openssl x509 -in w3.crt -noout -serial)"
expect_eq "a client verifies it by its DNS name" "$(curl -s --cacert pki/root.crt \
  --resolve "db.localhost:$HTTPS_PORT:127.0.0.1" "https://db.localhost:$HTTPS_PORT/healthz")" '{"status":"ok"}'
stop_server TERM
finish
