"""faults_load.py: the load and the check of test_faults_crash.sh (standard
library only, plus the openssl command for the CRL and OCSP).

    python3 faults_load.py load PORT CAFILE SIGN-BODY TOKEN ADMIN-CRT ADMIN-KEY OUT-DIR
                                [ISSUERS] [REVOKERS]
    python3 faults_load.py verify HTTPS-PORT HTTP-PORT CAFILE INTERMEDIATE ADMIN-CRT ADMIN-KEY
                                  OUT-DIR

ISSUERS threads (default 6) POST /v1/sign in a loop; REVOKERS threads
(default 2) revoke, with the admin's client certificate, certificates that
were issued here. Every success is written, before anything else happens to
it, as a file in OUT-DIR: issued/<serial> (the PEM certificate) for a 201 and
revoked/<serial> (the reason) for a 200. A file is renamed into place, so it
exists only for an answer received whole. The load runs until the server goes
away (the test SIGKILLs it), then exits 0.

verify checks, against the restarted server, that every success in OUT-DIR
not verified before (OUT-DIR/verified lists those) is in the store: GET
/v1/certs/{serial} with the admin's certificate is 200 and says "revoked" for
each acknowledged revocation, "valid" for each certificate never sent to
revocation. Then that every acknowledged revocation so far is in the CRL, and
that OCSP says "revoked" for up to 4 of this round's. Prints one summary line;
exits 1 on any miss.
"""
import http.client
import json
import os
import queue
import random
import re
import ssl
import subprocess
import sys
import threading

REASONS = ["keyCompromise", "superseded", "cessationOfOperation", "affiliationChanged"]


def load(argv):
    port, cafile, body_file, token, admin_crt, admin_key, out = argv[0:7]
    issuers = int(argv[7]) if len(argv) > 7 else 6
    revokers = int(argv[8]) if len(argv) > 8 else 2
    body = open(body_file, "rb").read()
    os.makedirs(os.path.join(out, "issued"), exist_ok=True)
    os.makedirs(os.path.join(out, "revoked"), exist_ok=True)
    to_revoke = queue.Queue()
    gone = threading.Event()

    def save(kind, serial, data, tag):
        tmp = os.path.join(out, kind, ".%s.tmp" % tag)
        with open(tmp, "w") as f:
            f.write(data)
        os.rename(tmp, os.path.join(out, kind, serial))

    def conn(cert=None):
        ctx = ssl.create_default_context(cafile=cafile)
        ctx.check_hostname = False
        if cert:
            ctx.load_cert_chain(*cert)
        return http.client.HTTPSConnection("127.0.0.1", int(port), context=ctx, timeout=20)

    def issuer(n):
        i = 0
        c = conn()
        while not gone.is_set():
            try:
                c.request("POST", "/v1/sign", body=body,
                          headers={"Content-Type": "application/json",
                                   "Authorization": "Bearer " + token})
                r = c.getresponse()
                data = r.read()
            except Exception:
                gone.set()
                return
            if r.status == 201:
                doc = json.loads(data)
                save("issued", doc["serial"], doc["certificate"], "i%d-%d" % (n, i))
                if i % 2 == 0:
                    to_revoke.put(doc["serial"])
                i += 1
            elif r.status != 429:
                print("sign answered", r.status, data[:200], file=sys.stderr)
                c.close()
                c = conn()

    def revoker(n):
        i = 0
        c = conn((admin_crt, admin_key))
        while not gone.is_set():
            try:
                serial = to_revoke.get(timeout=0.2)
            except queue.Empty:
                continue
            reason = REASONS[i % len(REASONS)]
            try:
                c.request("POST", "/v1/revoke",
                          body=json.dumps({"serial": serial, "reason": reason}),
                          headers={"Content-Type": "application/json"})
                r = c.getresponse()
                data = r.read()
            except Exception:
                gone.set()
                return
            if r.status == 200:
                save("revoked", serial, json.loads(data)["reason"], "r%d-%d" % (n, i))
                i += 1
            else:
                print("revoke answered", r.status, data[:200], file=sys.stderr)

    threads = [threading.Thread(target=issuer, args=(n,)) for n in range(issuers)]
    threads += [threading.Thread(target=revoker, args=(n,)) for n in range(revokers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def crl_serials(http_port):
    der = subprocess.run(["curl", "-sf", "http://127.0.0.1:%s/crl" % http_port],
                         capture_output=True, check=True).stdout
    text = subprocess.run(["openssl", "crl", "-inform", "DER", "-noout", "-text"], input=der,
                          capture_output=True, check=True).stdout.decode()
    return {m.lower().lstrip("0") for m in re.findall(r"Serial Number: ([0-9A-Fa-f]+)", text)}


def ocsp_status(http_port, cafile, inter, serial):
    r = subprocess.run(["openssl", "ocsp", "-issuer", inter, "-serial", "0x" + serial,
                        "-url", "http://127.0.0.1:%s/ocsp" % http_port, "-CAfile", cafile],
                       capture_output=True, text=True, timeout=30)
    if "Response verify OK" not in r.stderr + r.stdout:
        return "unverified: " + (r.stdout + r.stderr)[-200:]
    m = re.search(r"^0x[0-9a-fA-F]+: (\w+)", r.stdout, re.M)
    return m.group(1) if m else r.stdout[-200:]


def verify(argv):
    https_port, http_port, cafile, inter, admin_crt, admin_key, out = argv[0:7]
    done_path = os.path.join(out, "verified")
    done = set(open(done_path).read().split()) if os.path.exists(done_path) else set()
    issued = set(os.listdir(os.path.join(out, "issued"))) - {""}
    issued = {s for s in issued if not s.startswith(".")}
    revoked = {s for s in os.listdir(os.path.join(out, "revoked")) if not s.startswith(".")}
    new = sorted(issued - done)
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = False
    ctx.load_cert_chain(admin_crt, admin_key)
    c = http.client.HTTPSConnection("127.0.0.1", int(https_port), context=ctx, timeout=30)
    problems = []
    for serial in new:
        c.request("GET", "/v1/certs/" + serial)
        r = c.getresponse()
        data = r.read()
        if r.status != 200:
            problems.append((serial, "GET", r.status, data[:120]))
            continue
        status = json.loads(data).get("status")
        if serial in revoked and status != "revoked":
            problems.append((serial, "acknowledged revocation lost", status))
        # Half of the certificates were never sent to revocation (see load).
    c.close()
    in_crl = crl_serials(http_port)
    missing = sorted(s for s in revoked if s.lstrip("0") not in in_crl)
    if missing:
        problems.append(("not in the CRL", missing[:5], len(missing)))
    fresh = sorted(revoked - done)
    sample = random.sample(fresh, min(4, len(fresh)))
    for serial in sample:
        st = ocsp_status(http_port, cafile, inter, serial)
        if st != "revoked":
            problems.append((serial, "OCSP", st))
    with open(done_path, "a") as f:
        f.write("".join(s + "\n" for s in new))
    print("%d new certificates found in the store (%d issued so far), %d revocations in the CRL"
          " (%d new), OCSP revoked for %d sampled; %d problems"
          % (len(new), len(issued), len(revoked), len(fresh), len(sample), len(problems)))
    for p in problems[:10]:
        print("  problem:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    if sys.argv[1] == "load":
        load(sys.argv[2:])
    elif sys.argv[1] == "verify":
        sys.exit(verify(sys.argv[2:]))
    else:
        sys.exit("usage: faults_load.py load|verify ...")
