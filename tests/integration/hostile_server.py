"""hostile_server.py DIR PORTFILE MODE: a server that speaks signet's API
over TLS but answers as a broken or hostile one would, for test_agent_hostile.sh
(standard library and the openssl command only).

DIR holds pki/ (made by serve_lib.sh's make_pki), tls.crt and tls.key (this
server's certificate, for 127.0.0.1), and for the "foreign" mode other/ with
inter.crt, inter.key and root.crt of another CA. Certificates are signed with
`openssl ca`. The chosen port is written to PORTFILE once listening;
every request is appended to DIR/requests.log as "METHOD PATH".

MODE:
  otherid   /v1/sign gives spiffe://example.org/app/web, /v1/renew
            spiffe://example.org/admin/ops, renew_after 3 s from now
  junk      text around and between the PEM blocks of certificate, chain
            and bundle, and a private key block in the bundle
  foreign   a leaf from another CA, with that CA's root as the bundle
  short     2-second certificates, renew_after at once
  certs     GET /v1/certs: one record a page, "next" alternating two cursors
  busy      20-second certificates, renew_after 3 s from now; /v1/renew
            answers 429 overloaded with Retry-After: 3600
  forbidden renew_after 3 s from now; /v1/renew answers 403 forbidden
  sparse    GET /v1/certs: two pages with no record but a forward "next"
            (as signet answers when its bound on the records one request
            examines is reached before a match), then one record and no "next"
"""
import datetime
import http.server
import json
import os
import socketserver
import ssl
import subprocess
import sys
import tempfile
import threading
import urllib.parse

d, portfile, mode = sys.argv[1], sys.argv[2], sys.argv[3]
lock = threading.Lock()
pages = [0]


def rfc3339(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def sign(csr_pem, spiffe_id, seconds, ca):
    """Signs |csr_pem| for |spiffe_id|, valid |seconds|, with ca's intermediate
    (`openssl ca`, which takes exact start and end times)."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    start = now - datetime.timedelta(seconds=60)
    end = now + datetime.timedelta(seconds=seconds)
    with tempfile.TemporaryDirectory() as tmp:
        with open(tmp + "/csr.pem", "w") as f:
            f.write(csr_pem)
        open(tmp + "/index.txt", "w").close()
        with open(tmp + "/serial", "w") as f:
            f.write(os.urandom(15).hex() + "\n")
        with open(tmp + "/ca.cnf", "w") as f:
            f.write("[ca]\ndefault_ca = c\n[c]\ndir = %s\ndatabase = %s/index.txt\n"
                    "new_certs_dir = %s\nserial = %s/serial\ndefault_md = sha256\n"
                    "policy = p\ncopy_extensions = none\nx509_extensions = ext\n"
                    "unique_subject = no\n[p]\ncommonName = optional\n[ext]\n"
                    "basicConstraints = critical,CA:FALSE\n"
                    "keyUsage = critical,digitalSignature\n"
                    "extendedKeyUsage = serverAuth,clientAuth\n"
                    "subjectAltName = critical,URI:%s\n" % (tmp, tmp, tmp, tmp, spiffe_id))
        subprocess.run(["openssl", "ca", "-batch", "-config", tmp + "/ca.cnf", "-cert",
                        ca["inter.crt"], "-keyfile", ca["inter.key"], "-in", tmp + "/csr.pem",
                        "-out", tmp + "/leaf.pem", "-notext", "-startdate",
                        start.strftime("%Y%m%d%H%M%SZ"), "-enddate",
                        end.strftime("%Y%m%d%H%M%SZ")], check=True, capture_output=True)
        leaf = open(tmp + "/leaf.pem").read()
    serial = subprocess.run(["openssl", "x509", "-noout", "-serial"], input=leaf, text=True,
                            check=True, capture_output=True).stdout.split("=")[1].strip()
    return leaf, serial.lower().lstrip("0"), now, end


def svid(route, csr_pem):
    ca = {"inter.crt": d + "/pki/intermediate.crt", "inter.key": d + "/pki/intermediate.key",
          "root.crt": d + "/pki/root.crt"}
    if mode == "foreign":
        ca = {k: d + "/other/" + k for k in ca}
    spiffe_id = "spiffe://example.org/app/web"
    if mode == "otherid" and route == "/v1/renew":
        spiffe_id = "spiffe://example.org/admin/ops"
    seconds = {"short": 2, "busy": 20}.get(mode, 60)
    leaf, serial, now, end = sign(csr_pem, spiffe_id, seconds, ca)
    chain = open(ca["inter.crt"]).read()
    bundle = open(ca["root.crt"]).read()
    soon = mode in ("otherid", "busy", "forbidden")
    renew_after = now + datetime.timedelta(seconds=3 if soon else 0)
    if mode == "junk":
        leaf = "#!/bin/sh\nrm -rf / # injected\n" + leaf + "trailing junk\n"
        chain = "hello\n" + chain
        bundle = ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
                  "not pem\n" + bundle)
    return {"serial": serial, "spiffe_id": spiffe_id, "not_after": rfc3339(end),
            "renew_after": rfc3339(renew_after), "certificate": leaf, "chain": chain,
            "bundle": bundle}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, doc, headers=()):
        body = json.dumps(doc).encode()
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def note(self):
        with lock, open(d + "/requests.log", "a") as f:
            f.write("%s %s\n" % (self.command, self.path.split("?")[0]))

    def do_GET(self):
        self.note()
        if mode == "certs" and self.path.startswith("/v1/certs"):
            with lock:
                pages[0] += 1
                n = pages[0]
            rec = {"serial": "1%x" % n, "spiffe_id": "spiffe://example.org/app/web",
                   "status": "valid", "not_before": "2026-01-01T00:00:00Z",
                   "not_after": "2027-01-01T00:00:00Z", "issued_at": "2026-01-01T00:00:00Z",
                   "auth_method": "provisioner"}
            self.answer(200, {"certs": [rec], "next": "bb" if n % 2 else "aa"})
            return
        if mode == "sparse" and self.path.startswith("/v1/certs"):
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            after = query.get("after", [""])[0]
            if after in ("", "1000"):
                self.answer(200, {"certs": [], "next": "1000" if after == "" else "2000"})
                return
            rec = {"serial": "2abc", "spiffe_id": "spiffe://example.org/app/web",
                   "status": "revoked", "not_before": "2026-01-01T00:00:00Z",
                   "not_after": "2027-01-01T00:00:00Z", "issued_at": "2026-01-01T00:00:00Z",
                   "auth_method": "provisioner", "revoked_at": "2026-06-01T00:00:00Z",
                   "reason": "keyCompromise"}
            self.answer(200, {"certs": [rec] if after == "2000" else []})
            return
        self.answer(404, {"error": "not_found", "message": "no such route"})

    def do_POST(self):
        self.note()
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        if self.path not in ("/v1/sign", "/v1/renew"):
            self.answer(404, {"error": "not_found", "message": "no such route"})
            return
        if mode == "busy" and self.path == "/v1/renew":
            self.answer(429, {"error": "overloaded", "message": "come back in an hour"},
                        [("Retry-After", "3600")])
            return
        if mode == "forbidden" and self.path == "/v1/renew":
            self.answer(403, {"error": "forbidden", "message": "no longer renewable"})
            return
        self.answer(201, svid(self.path, body["csr"]))


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


server = Server(("127.0.0.1", 0), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(d + "/tls.crt", d + "/tls.key")
ctx.load_verify_locations(d + "/pki/root.crt")
ctx.verify_mode = ssl.CERT_OPTIONAL
server.socket = ctx.wrap_socket(server.socket, server_side=True)
with open(portfile + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(portfile + ".tmp", portfile)
server.serve_forever()
