#!/usr/bin/env bash
# test_malformed.sh: more than 100 malformed requests (bad JSON, wrong types,
# missing and unknown keys, duplicate keys, bad durations, bad PEM, huge and
# chunked bodies, wrong media types, methods and routes) each get a clean 4xx
# JSON error {"error", "message"}; the server stays healthy and still issues.
. "$(dirname "$0")/serve_lib.sh"
cd "$T_DIR" || exit 1

check "dev PKI is made" make_pki
write_config
check "server starts and becomes ready" start_server
make_csr w
openssl x509 -in pki/root.crt >notacsr.pem
tok=$(k8s_token ES256 ec1)

check "every malformed request gets a 4xx JSON error" python3 - "$HTTPS_PORT" pki/root.crt w.csr notacsr.pem w.key "$tok" <<'PY'
import http.client, json, ssl, sys

port, cafile, csr_file, cert_file, key_file, token = sys.argv[1:7]
csr = open(csr_file).read()
ctx = ssl.create_default_context(cafile=cafile)
ctx.check_hostname = False
J = "application/json"

def js(o):
    return json.dumps(o).encode()

lines = csr.splitlines(keepends=True)
b64 = "".join(lines[1:-1])
flipped = lines[0] + b64[:40] + ("A" if b64[40] != "A" else "B") + b64[41:] + lines[-1]
cases = []  # (method, path, content-type, body, extra headers, chunked)
bodies = [
    b"", b"{", b"}", b"[", b"null", b"true", b"1", b'"csr"', b'{"csr":}', b"{csr: 1}",
    b"{'csr': 'x'}", b'{"csr": "x",}', b'{"csr": NaN}', b"[" * 5000 + b"]" * 5000,
    b'{"csr": "\xff\xfe"}', b"\xef\xbb\xbf{}", b'{"csr": "x"}\x00', b'{"csr": "x"} {"csr": "y"}',
    b"\x00" * 100, b"\xff" * 100,
    js({"csr": 1}), js({"csr": True}), js({"csr": None}), js({"csr": []}), js({"csr": {}}),
    js({"csr": 1.5}), js({"csr": csr, "ttl": 1}), js({"csr": csr, "ttl": None}),
    js({"csr": csr, "ttl": []}), js({"csr": csr, "ttl": {}}), js({}), js({"ttl": "1h"}),
    js({"csr": csr, "extra": 1}), js({"csr": csr, "CSR": "y"}), js({"Csr": csr}),
    js([csr]), js({"csr": csr, "dns": ["evil.example"]}), js({"csr": csr, "spiffe_id": "x"}),
    b'{"csr": "a", "csr": "a"}', b'{"csr": "a", "ttl": "1h", "ttl": "2h"}',
]
for ttl in ["1", "h", "-1h", "1.5h", "99999999999999999999h", "1w", " 1h", "1h ", "0s", "",
            "1H", "+1h", "0x10s", "1e3s", "3650000d"]:
    bodies.append(js({"csr": csr, "ttl": ttl}))
pems = [
    "x", "-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n",
    "-----BEGIN CERTIFICATE REQUEST-----\n!!!!\n-----END CERTIFICATE REQUEST-----\n",
    open(cert_file).read(), open(key_file).read(), csr + csr, csr + "trailing garbage\n",
    csr[: len(csr) // 2], flipped, "A" * 40000, csr.replace("\n", "\u0000"),
    csr.replace("CERTIFICATE REQUEST", "CERTIFICATE"), "\u00e9" * 100,
    "-----BEGIN CERTIFICATE REQUEST-----\n" + "QUFB" * 2000 + "\n-----END CERTIFICATE REQUEST-----\n",
]
for p in pems:
    bodies.append(js({"csr": p}))
for b in bodies:
    cases.append(("POST", "/v1/sign", J, b, {"Authorization": "Bearer " + token}, False))
for b in bodies[:20]:
    cases.append(("POST", "/v1/renew", J, b, {}, False))
big = b"a" * 70000
cases += [
    ("POST", "/v1/sign", J, big, {"Authorization": "Bearer " + token}, False),
    ("POST", "/v1/sign", J, big, {}, True),
    ("POST", "/v1/renew", J, big * 3, {}, True),
    ("POST", "/v1/sign", J, b"{" * 66000, {}, False),
    ("POST", "/v1/sign", J, b" " * 500000, {}, False),
    ("POST", "/v1/nothing", J, b" " * 200000, {}, False),
    ("POST", "/v1/sign", "text/plain", b" " * 200000, {}, False),
    ("POST", "/v1/sign", "text/plain", js({"csr": csr}), {}, False),
    ("POST", "/v1/sign", None, js({"csr": csr}), {}, False),
    ("POST", "/v1/sign", "application/x-www-form-urlencoded", b"csr=x", {}, False),
    ("POST", "/v1/sign", "multipart/form-data; boundary=x", b"--x--", {}, False),
    ("POST", "/v1/sign", "application/jsonp", js({"csr": csr}), {}, False),
    ("POST", "/v1/sign", J, js({"csr": csr}), {"Authorization": "Bearer"}, False),
    ("POST", "/v1/sign", J, js({"csr": csr}), {"Authorization": "Bearer " + "x" * 20000}, False),
    ("POST", "/v1/sign", J, js({"csr": csr}), {"Authorization": "Bearer not.a.jwt"}, False),
    ("POST", "/v1/sign", J, js({"csr": csr}), {"Authorization": "Bearer ..."}, False),
    ("PUT", "/v1/sign", J, js({"csr": csr}), {}, False),
    ("DELETE", "/v1/sign", None, b"", {}, False),
    ("GET", "/v1/renew", None, b"", {}, False),
    ("PATCH", "/v1/renew", J, b"{}", {}, False),
    ("POST", "/healthz", J, b"{}", {}, False),
    ("GET", "/v1/sign/", None, b"", {}, False),
    ("GET", "/V1/SIGN", None, b"", {}, False),
    ("GET", "/v1//sign", None, b"", {}, False),
    ("GET", "/../etc/passwd", None, b"", {}, False),
    ("GET", "/%2e%2e/ca.crt", None, b"", {}, False),
    ("GET", "/" + "a" * 2000, None, b"", {}, False),
]

bad = []
for i, (method, path, ctype, body, headers, chunked) in enumerate(cases):
    conn = http.client.HTTPSConnection("127.0.0.1", int(port), context=ctx, timeout=30)
    h = dict(headers)
    if ctype:
        h["Content-Type"] = ctype
    try:
        if chunked:
            conn.request(method, path, body=iter([body[i:i + 8192] for i in range(0, len(body), 8192)]),
                         headers=h, encode_chunked=True)
        else:
            conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        data = r.read()
        doc = json.loads(data)
        ok = (400 <= r.status < 500 and r.getheader("Content-Type") == J
              and set(doc) == {"error", "message"} and doc["message"])
        if not ok:
            bad.append((i, method, path, body[:60], r.status, data[:200]))
    except Exception as e:  # a dropped connection is a failure too
        bad.append((i, method, path, body[:60], "exception", repr(e)))
    finally:
        conn.close()
print(len(cases), "cases")
for b in bad:
    print("bad:", b)
assert len(cases) >= 100, len(cases)
assert not bad
PY
last_output
expect_eq "/healthz is still 200" "$(curl -s -o /dev/null -w '%{http_code}' "$HTTP_URL/healthz")" 200
body w.csr >w.json
expect_eq "issuance still works" "$(post "$HTTPS_URL/v1/sign" "$tok" w.json o)" 201
stop_server TERM
expect_eq "SIGTERM exits 0" "$SRV_RC" 0
finish
