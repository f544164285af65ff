"""renew_revoke_race.py DIR PORT ID-PREFIX NAME...: for each NAME, a renewal with
NAME.crt/NAME.key (SPIFFE ID: ID-PREFIX followed by NAME) and the admin's revocation of that certificate
(NAME.serial) are sent at the same moment, on two TLS connections opened
beforehand; right after the revocation's 200 the admin lists the identity's
certificates. The answer that must never come: a renewal delivered (201)
whose certificate that listing does not show, because it was recorded after
the revocation, unrevoked. A renewal is either recorded before the revocation
is answered, or refused with 401.

The body of every renewal is DIR/race.json; the admin is DIR/admin.crt and
DIR/admin.key; the roots are DIR/pki/root.crt. Prints one line per outcome
kind and exits 1 when any trial broke the rule."""
import http.client
import json
import ssl
import sys
import threading
import urllib.parse


def connect(d, port, name):
    ctx = ssl.create_default_context(cafile=d + "/pki/root.crt")
    ctx.check_hostname = False
    ctx.load_cert_chain(d + "/" + name + ".crt", d + "/" + name + ".key")
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
    conn.connect()
    return conn


def trial(d, port, spiffe_id, name, body, delay):
    serial = open(d + "/" + name + ".serial").read().strip()
    renewer = connect(d, port, name)
    admin = connect(d, port, "admin")
    start = threading.Barrier(2)
    got = {}

    def renew():
        start.wait()
        renewer.request("POST", "/v1/renew", body, {"Content-Type": "application/json"})
        r = renewer.getresponse()
        got["renew"] = (r.status, r.read())

    def revoke():
        start.wait()
        threading.Event().wait(delay)
        admin.request("POST", "/v1/revoke", json.dumps({"serial": serial}),
                      {"Content-Type": "application/json"})
        r = admin.getresponse()
        got["revoke"] = r.status
        r.read()
        admin.request("GET", "/v1/certs?spiffe_id=" + urllib.parse.quote(spiffe_id, safe=""))
        r = admin.getresponse()
        got["listed"] = [c["serial"] for c in json.loads(r.read())["certs"]]

    threads = [threading.Thread(target=renew), threading.Thread(target=revoke)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    renewer.close()
    admin.close()
    status, answer = got["renew"]
    if got.get("revoke") != 200:
        return "broken: the revocation answered %s" % got.get("revoke")
    if status == 201:
        child = json.loads(answer)["serial"]
        if child not in got["listed"]:
            return "broken: renewal %s delivered but recorded after the revocation" % child
        return "renewed, then revoked"
    if status == 401 and "revoked" in json.loads(answer).get("message", ""):
        return "refused as revoked (401)"
    return "broken: the renewal answered %d %s" % (status, answer[:200])


def main():
    d, port, prefix, names = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
    body = open(d + "/race.json").read()
    outcomes = {}
    for i, name in enumerate(names):
        # Stagger the revocation from 0 to 1.5 ms after the renewal leaves,
        # which is where the renewal's signing and commit take place.
        kind = trial(d, port, prefix + name, name, body, 0.0005 * (i % 4))
        outcomes[kind] = outcomes.get(kind, 0) + 1
    for kind, n in sorted(outcomes.items()):
        print("%3d %s" % (n, kind))
    sys.exit(1 if any(k.startswith("broken") for k in outcomes) else 0)


if __name__ == "__main__":
    main()
