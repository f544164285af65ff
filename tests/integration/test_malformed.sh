#!/usr/bin/env bash
# test_malformed.sh: more than 100 malformed requests (bad JSON, wrong types,
# missing and unknown keys, duplicate keys, bad durations, bad PEM, huge and
# chunked bodies, wrong media types, methods and routes) each get a clean 4xx
# JSON error {"error", "message"}; a path with an encoded NUL (%00) is not
# cut short at it; the server stays healthy and still issues.
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

# A body whose length two headers disagree on could hide a second request
# (request smuggling): such a request is refused 400 before its body is
# read, and nothing after its headers is answered as a request.
check "an ambiguous request length is 400 and nothing smuggled is answered" \
  python3 - "$HTTP_PORT" "$HTTPS_PORT" pki/root.crt <<'PY'
import json, re, socket, ssl, sys

http_port, https_port, cafile = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
inner = b"GET /v1/bundle HTTP/1.1\r\nHost: x\r\n\r\n"

def exchange(port, tls, head, body):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    if tls:
        ctx = ssl.create_default_context(cafile=cafile)
        ctx.check_hostname = False
        s = ctx.wrap_socket(s)
    s.sendall(head + body)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except socket.timeout:
        raise AssertionError("the connection stayed open: %r" % out[:300])
    s.close()
    return out

def post(path, framing, body):
    return (b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + framing + b"\r\n")

body = b'{"x":1}' + inner
cases = [
    (b"Content-Length: 7\r\nContent-Length: %d\r\n" % len(body), body, "more than one"),
    (b"Content-Length: %d\r\nContent-Length: 7\r\n" % len(body), body, "more than one"),
    (b"Content-Length: 7\r\nContent-Length: 7\r\n", b'{"x":1}', "more than one"),
    (b"Content-Length: 200\r\nTransfer-Encoding: chunked\r\n",
     b"7\r\n{\"x\":1}\r\n0\r\n\r\n" + inner, "both"),
    (b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
     b"7\r\n{\"x\":1}\r\n0\r\n\r\n" + inner, "both"),
]
n = 0
for port, tls, path in ((http_port, False, b"/ocsp"), (https_port, True, b"/v1/sign")):
    for framing, data, why in cases:
        out = exchange(port, tls, post(path, framing, data), data)
        statuses = re.findall(rb"HTTP/1.1 (\d+)", out)
        assert statuses == [b"400"], (path, framing, out[:400])
        doc = json.loads(out.split(b"\r\n\r\n", 1)[1])
        assert doc["error"] == "bad_request" and why in doc["message"], doc
        n += 1
print(n, "ambiguous requests refused, none smuggled")
PY
last_output
# libmicrohttpd hands the path over as a C string once unescaped, so a %00
# in it used to cut it short: /v1/bundle%00junk was answered as /v1/bundle.
# Such a path names nothing: 404 not_found, as JSON, on both listeners and
# whatever route it starts with. %2500 is a '%' and "00", not a NUL.
# (A raw NUL byte in the request line still cuts the path: libmicrohttpd
# 0.9.75 does not tell us the path's length.)
openssl ocsp -issuer pki/intermediate.crt -serial 0x1234 -no_nonce -reqout ocsp.der >/dev/null 2>&1
check "a path with an encoded NUL is 404 not_found, not the route before it" \
  python3 - "$HTTP_PORT" "$HTTPS_PORT" pki/root.crt "$(base64 -w0 ocsp.der)" <<'PY'
import json, socket, ssl, sys, urllib.parse

http_port, https_port, cafile, ocsp_b64 = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
ocsp = "/ocsp/" + urllib.parse.quote(ocsp_b64, safe="")

def exchange(port, tls, method, path):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    if tls:
        ctx = ssl.create_default_context(cafile=cafile)
        ctx.check_hostname = False
        s = ctx.wrap_socket(s)
    body = b'{"serial": "1234"}' if method == "POST" else b""
    s.sendall(method.encode() + b" " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n"
              b"Connection: close\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body) + body)
    out = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        out += chunk
    s.close()
    head, _, data = out.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    headers = dict(l.split(b": ", 1) for l in lines[1:] if b": " in l)
    return int(lines[0].split()[1]), headers.get(b"Content-Type", b"").decode(), data

# The routes themselves answer, so the checks below test the NUL and not a typo.
assert exchange(http_port, False, "GET", "/v1/bundle")[0] == 200
assert exchange(http_port, False, "GET", ocsp)[1] == "application/ocsp-response"
public = ["/v1/bundle%00junk", "/v1/bundle%00", "/v1/bundle.json%00.pem", "/ca.crt%00",
          "/crl%00.pem", "/v1/crls.pem%00x", "/healthz%00", "/readyz%00/x", "/metrics%00",
          ocsp + "%00junk", ocsp + "%00", "/ocsp/%00", "/%00/v1/bundle", "/v1/bundle%2500"]
private = [("GET", "/v1/certs%00"), ("GET", "/v1/certs/1234%00junk"),
           ("GET", "/v1/certs/1234%00"), ("GET", "/v1/certs%00?status=revoked"),
           ("POST", "/v1/revoke%00"), ("POST", "/v1/sign%00x"), ("POST", "/v1/renew%00")]
cases = [(http_port, False, "GET", p) for p in public]
cases += [(https_port, True, "GET", p) for p in public]
cases += [(https_port, True, m, p) for m, p in private]
bad = []
for port, tls, method, path in cases:
    status, ctype, data = exchange(port, tls, method, path)
    try:
        doc = json.loads(data)
    except ValueError:
        doc = {}
    if (status, ctype, doc.get("error")) != (404, "application/json", "not_found"):
        bad.append(("https" if tls else "http", method, path, status, ctype, data[:120]))
# A query value is no longer cut at %00 either: "revoked%00x" is not "revoked"
# (400 before the client certificate is asked for, where "revoked" is 401).
for query in ["status=revoked%00x", "spiffe_id=spiffe://example.org/a%00b", "limit=5%00",
              "status%00x=revoked"]:
    status, ctype, data = exchange(https_port, True, "GET", "/v1/certs?" + query)
    if (status, json.loads(data).get("error")) != (400, "bad_request"):
        bad.append(("https", "GET", "/v1/certs?" + query, status, ctype, data[:120]))
print(len(cases), "paths and 4 query strings with %00")
for b in bad:
    print("bad:", b)
assert not bad
PY
last_output

expect_eq "/healthz is still 200" "$(curl -s -o /dev/null -w '%{http_code}' "$HTTP_URL/healthz")" 200
body w.csr >w.json
expect_eq "issuance still works" "$(post "$HTTPS_URL/v1/sign" "$tok" w.json o)" 201
stop_server TERM
expect_eq "SIGTERM exits 0" "$SRV_RC" 0
finish
