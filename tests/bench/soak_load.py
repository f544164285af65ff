"""soak_load.py: the load generator of tests/bench/soak.sh (standard library
only). Fixed rates, open loop: each operation has a ticker that starts one
request every 1/rate seconds on a thread pool, whatever the previous ones are
doing, so a slow server shows up as latency and backlog, not as a lower rate.

    python3 soak_load.py CONFIG-JSON

CONFIG keys: https_port, http_port, cafile, sign_body, token, leaf_key (the
key of sign_body's CSR), admin_crt, admin_key, ocsp_reqs (a list of DER OCSP
request files), server_pid, store_dir, seconds, rates ({"sign", "renew",
"revoke", "ocsp"} per second), out (directory). Writes out/requests.csv
(t_s, op, status, ms), out/resources.csv (t_s, rss_kib, store_kib, rss_anon_kib,
rss_file_kib; every 5 s) and prints a summary as JSON on stdout.
"""
import collections
import concurrent.futures
import http.client
import json
import os
import ssl
import sys
import threading
import time


def main():
    cfg = json.load(open(sys.argv[1]))
    out = cfg["out"]
    secs = float(cfg["seconds"])
    rates = cfg["rates"]
    body = open(cfg["sign_body"], "rb").read()
    ocsp_reqs = [open(p, "rb").read() for p in cfg["ocsp_reqs"]]
    cafile = cfg["cafile"]
    tls_port, http_port = int(cfg["https_port"]), int(cfg["http_port"])

    issued = collections.deque(maxlen=2000)  # (serial, pem) not yet revoked
    issued_lock = threading.Lock()
    rows = []
    rows_lock = threading.Lock()
    local = threading.local()
    t0 = time.monotonic()
    certdir = os.path.join(out, "certs")
    os.makedirs(certdir, exist_ok=True)

    def ctx_for(cert=None):
        ctx = ssl.create_default_context(cafile=cafile)
        ctx.check_hostname = False
        if cert:
            ctx.load_cert_chain(*cert)
        return ctx

    plain_ctx = ctx_for()
    admin_ctx = ctx_for((cfg["admin_crt"], cfg["admin_key"]))

    def conn(kind):
        # The server closes a connection idle for 10 s: a thread that has not
        # used its connection for 5 s starts a new one, so that a request is
        # never lost to a close the server already made (a client artefact).
        c = getattr(local, kind, None)
        now = time.monotonic()
        if c is not None and now - getattr(local, kind + "_t", now) > 5.0:
            c.close()
            c = None
        setattr(local, kind + "_t", now)
        if c is None:
            if kind == "ocsp":
                c = http.client.HTTPConnection("127.0.0.1", http_port, timeout=30)
            else:
                ctx = admin_ctx if kind == "revoke" else plain_ctx
                c = http.client.HTTPSConnection("127.0.0.1", tls_port, context=ctx, timeout=30)
            setattr(local, kind, c)
        return c

    def request(kind, method, path, data, headers, c=None):
        """One request on the thread's keep-alive connection for |kind|."""
        own = c is not None
        start = time.monotonic()
        try:
            c = c or conn(kind)
            c.request(method, path, body=data, headers=headers)
            r = c.getresponse()
            payload = r.read()
            status = r.status
        except Exception:
            status, payload = 0, b""
            if not own:
                setattr(local, kind, None)
        ms = (time.monotonic() - start) * 1000
        with rows_lock:
            rows.append((start - t0, kind, status, ms))
        return status, payload

    def do_sign():
        st, data = request("sign", "POST", "/v1/sign", body,
                           {"Content-Type": "application/json",
                            "Authorization": "Bearer " + cfg["token"]})
        if st == 201:
            doc = json.loads(data)
            with issued_lock:
                issued.append((doc["serial"], doc["certificate"]))

    def do_renew():
        with issued_lock:
            if not issued:
                return
            serial, pem = issued.pop()
        path = os.path.join(certdir, serial + ".pem")
        with open(path, "w") as f:
            f.write(pem)
        # A new TLS connection with this certificate, as an agent would.
        c = http.client.HTTPSConnection("127.0.0.1", tls_port,
                                        context=ctx_for((path, cfg["leaf_key"])), timeout=30)
        st, data = request("renew", "POST", "/v1/renew", body,
                           {"Content-Type": "application/json"}, c)
        c.close()
        os.unlink(path)
        if st == 201:
            doc = json.loads(data)
            with issued_lock:
                issued.append((doc["serial"], doc["certificate"]))

    def do_revoke():
        with issued_lock:
            if not issued:
                return
            serial, _ = issued.popleft()
        request("revoke", "POST", "/v1/revoke",
                json.dumps({"serial": serial, "reason": "superseded"}),
                {"Content-Type": "application/json"})

    def do_ocsp():
        req = ocsp_reqs[int(time.monotonic() * 1000) % len(ocsp_reqs)]
        request("ocsp", "POST", "/ocsp", req, {"Content-Type": "application/ocsp-request"})

    ops = {"sign": do_sign, "renew": do_renew, "revoke": do_revoke, "ocsp": do_ocsp}
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=64)
    stop = threading.Event()
    backlog = collections.Counter()

    def ticker(name, rate):
        if rate <= 0:
            return
        period = 1.0 / rate
        n = 0
        while not stop.is_set():
            n += 1
            pool.submit(ops[name])
            delay = t0 + n * period - time.monotonic()
            if delay > 0:
                stop.wait(delay)
            elif delay < -1.0:
                backlog[name] += 1  # more than a second behind schedule

    resources = []

    def sampler():
        last = False
        while True:
            t = time.monotonic() - t0
            mem = {}
            try:
                for line in open("/proc/%d/status" % int(cfg["server_pid"])):
                    if line.startswith(("VmRSS:", "RssAnon:", "RssFile:")):
                        mem[line.split(":")[0]] = int(line.split()[1])
            except OSError:
                pass
            size = 0
            for root, _, files in os.walk(cfg["store_dir"]):
                for f in files:
                    try:
                        size += os.stat(os.path.join(root, f)).st_blocks * 512
                    except OSError:
                        pass
            resources.append((t, mem.get("VmRSS", 0), size // 1024, mem.get("RssAnon", 0),
                              mem.get("RssFile", 0)))
            if last:
                break
            last = stop.wait(5.0)  # one more sample at the end

    threads = [threading.Thread(target=ticker, args=(k, float(v))) for k, v in rates.items()]
    threads.append(threading.Thread(target=sampler))
    for t in threads:
        t.start()
    time.sleep(secs)
    stop.set()
    for t in threads:
        t.join()
    pool.shutdown(wait=True)
    elapsed = time.monotonic() - t0

    with open(os.path.join(out, "requests.csv"), "w") as f:
        f.write("t_s,op,status,ms\n")
        for r in sorted(rows):
            f.write("%.3f,%s,%d,%.2f\n" % r)
    with open(os.path.join(out, "resources.csv"), "w") as f:
        f.write("t_s,rss_kib,store_kib,rss_anon_kib,rss_file_kib\n")
        for r in resources:
            f.write("%.1f,%d,%d,%d,%d\n" % r)

    def pct(v, p):
        return v[min(len(v) - 1, int(len(v) * p / 100.0))] if v else 0.0

    summary = {"seconds": round(elapsed, 1), "ops": {}}
    ok_codes = {"sign": 201, "renew": 201, "revoke": 200, "ocsp": 200}
    for name in ops:
        mine = [r for r in rows if r[1] == name]
        lat = sorted(r[3] for r in mine)
        ok = sum(1 for r in mine if r[2] == ok_codes[name])
        summary["ops"][name] = {
            "target_per_s": float(rates.get(name, 0)), "requests": len(mine), "ok": ok,
            "ok_per_s": round(ok / elapsed, 2),
            "statuses": dict(collections.Counter(str(r[2]) for r in mine)),
            "p50_ms": round(pct(lat, 50), 2), "p99_ms": round(pct(lat, 99), 2),
            "max_ms": round(lat[-1], 2) if lat else 0.0, "late_ticks": backlog[name]}
    if resources:
        rss = [r[1] for r in resources]
        summary["rss_mib"] = {"first": round(rss[0] / 1024, 1), "last": round(rss[-1] / 1024, 1),
                              "max": round(max(rss) / 1024, 1),
                              "anon_first": round(resources[0][3] / 1024, 1),
                              "anon_last": round(resources[-1][3] / 1024, 1),
                              "file_first": round(resources[0][4] / 1024, 1),
                              "file_last": round(resources[-1][4] / 1024, 1)}
        summary["store_mib"] = {"first": round(resources[0][2] / 1024, 2),
                                "last": round(resources[-1][2] / 1024, 2)}
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
