#!/usr/bin/env bash
# test_tls_audit.sh: an external audit of the HTTPS listener with testssl.sh
# (protocols, cipher categories, forward secrecy, server defaults and
# certificate, known vulnerabilities, and every accepted cipher per protocol).
# Fails on any finding of severity MEDIUM, HIGH or CRITICAL, and asserts
# CONTRACT section 6 explicitly: TLS 1.2 and 1.3 only (no SSLv2, SSLv3,
# TLS 1.0, TLS 1.1), ECDHE key exchange and AEAD ciphers only (no CBC, no RSA
# key transport, no NULL, export, anonymous, RC4 or 3DES), forward secrecy on
# every suite, and the full chain (leaf and intermediate) sent.
#
# One exception to the severity rule: testssl.sh rates a certificate that
# expires within 30 days HIGH. The server's own certificate lives 24 h by
# design (it is issued by the intermediate at start-up and renewed at two
# thirds of its life), so that finding is accepted, and instead the test checks
# that the certificate is currently valid for at least another hour.
#
# And one false positive: testssl.sh 3.0.8 rates "Secure Client-Initiated
# Renegotiation" HIGH whenever `openssl s_client` exits 0 after sending "R"
# four times, including when the server simply closed the connection (its
# first try exempts a close, the four-try retry does not). GnuTLS, under
# libmicrohttpd, answers a client's renegotiation ClientHello with close_notify
# and no handshake, so there is nothing to exhaust; whether testssl.sh says so
# depends on timing (it flips under ASan). The test checks that behaviour itself
# (no ServerHello after the renegotiation request, the connection closed) and
# accepts the finding only then.
. "$(dirname "$0")/serve_lib.sh"
cd "$T_DIR" || exit 1

if ! command -v testssl >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq testssl.sh >/dev/null 2>&1
fi
check "testssl.sh is installed" command -v testssl

check "dev PKI is made" make_pki
write_config
check "server starts and becomes ready" start_server

# -p protocols, -s cipher categories, -f forward secrecy, -S server defaults
# and certificate, -U vulnerabilities, -E every cipher per protocol. The
# timeouts keep a wedged handshake from hanging the run; the root goes in
# with --add-ca so that the chain of trust can be judged.
run_testssl() {
  timeout 240 testssl --quiet --warnings off --color 0 --ip 127.0.0.1 \
    --connect-timeout 10 --openssl-timeout 10 --add-ca "$T_DIR/pki/root.crt" \
    --jsonfile "$T_DIR/testssl.json" -p -s -f -S -U -E "https://127.0.0.1:$HTTPS_PORT" \
    >"$T_DIR/testssl.txt" 2>&1
  test -s "$T_DIR/testssl.json"
}
check "testssl.sh runs against the HTTPS listener" run_testssl

# renego_refused: a client-initiated renegotiation gets no new handshake from
# the server, only the end of the connection.
renego_refused() {
  (echo R; sleep 2) | timeout 20 openssl s_client -tls1_2 -msg -connect "127.0.0.1:$HTTPS_PORT" \
    >"$T_DIR/renego.txt" 2>&1
  sed -n '/^RENEGOTIATING/,$p' "$T_DIR/renego.txt" | grep -vE '^    [0-9a-f]{2} ' >"$T_DIR/renego.tail"
  cat "$T_DIR/renego.tail"
  grep -q 'ClientHello' "$T_DIR/renego.tail" && ! grep -q 'ServerHello' "$T_DIR/renego.tail" &&
    grep -qE '^closed|close_notify' "$T_DIR/renego.tail"
}
failed_before=$LIB_FAILED
check "a client-initiated renegotiation is refused (no ServerHello, connection closed)" renego_refused
RENEGO_REFUSED=0
[ "$LIB_FAILED" -eq "$failed_before" ] && RENEGO_REFUSED=1

audit() {
  python3 - "$T_DIR/testssl.json" "$1" "$RENEGO_REFUSED" <<'PY'
import json, re, sys, time, datetime

findings = json.load(open(sys.argv[1]))
what = sys.argv[2]
renego_refused = sys.argv[3] == "1"
by_id = {}
for f in findings:
    by_id.setdefault(f["id"], []).append(f)

def one(i):
    assert i in by_id, "testssl.sh reported nothing for %s" % i
    return by_id[i][0]

def finding(i):
    return one(i)["finding"]

if what == "severity":
    # The one accepted HIGH: the 24 h server certificate "expires < 30 days".
    accepted = {"cert_expirationStatus", "cert_notAfter"}
    # testssl.sh's false positive, when our own probe saw the refusal.
    if renego_refused:
        accepted.add("secure_client_renego")
    bad = [f for f in findings if f["severity"] in ("MEDIUM", "HIGH", "CRITICAL")
           and f["id"] not in accepted]
    bad += [f for f in findings if f["severity"] == "FATAL" or f["id"] == "scanProblem"]
    for f in bad:
        print(f["severity"], f["id"], f["finding"])
    assert not bad, "%d findings of severity MEDIUM or above" % len(bad)
    noted = ["%s %s" % (f["id"], f["finding"]) for f in findings if f["id"] in accepted
             and f["severity"] in ("MEDIUM", "HIGH", "CRITICAL")]
    print(len(findings), "findings, none MEDIUM or above; accepted:", "; ".join(noted))
elif what == "protocols":
    for p in ("SSLv2", "SSLv3", "TLS1", "TLS1_1"):
        assert finding(p).startswith("not offered"), (p, finding(p))
    assert finding("TLS1_2") == "offered", finding("TLS1_2")
    assert finding("TLS1_3").startswith("offered"), finding("TLS1_3")
    print("SSLv2, SSLv3, TLS 1.0, TLS 1.1 not offered; TLS 1.2 and 1.3 offered")
elif what == "ciphers":
    suites = [(f["id"], f["finding"]) for f in findings if f["id"].startswith("cipher-tls")]
    protos = {" ".join(line.split()[:2]) for _, line in suites}
    assert protos == {"TLS 1.2", "TLS 1.3"}, ("per-protocol lists", protos, suites)
    names = []
    for i, line in suites:
        # "TLS 1.2   xc02b   ECDHE-ECDSA-AES128-GCM-SHA256  ECDH 253  AESGCM  128  TLS_ECDHE_..."
        cols = line.split()
        iana = cols[-1]
        kx, enc = cols[4], cols[6]
        names.append(iana)
        assert kx == "ECDH", ("key exchange is not ECDHE", line)
        assert enc in ("AESGCM", "ChaCha20"), ("cipher is not AEAD", line)
        assert not re.search(r"CBC|_RSA_WITH|NULL|EXPORT|anon|RC4|3DES|DES|IDEA|SEED|CAMELLIA|MD5",
                             iana), ("weak suite", line)
        if line.startswith("TLS 1.2"):
            assert iana.startswith("TLS_ECDHE_"), ("TLS 1.2 suite without ECDHE", line)
    for cat in ("cipherlist_NULL", "cipherlist_aNULL", "cipherlist_EXPORT", "cipherlist_LOW",
                "cipherlist_3DES_IDEA", "cipherlist_AVERAGE"):
        assert finding(cat) == "not offered", (cat, finding(cat))
    assert one("RC4")["severity"] == "OK", ("RC4", one("RC4"))
    print(len(suites), "suites, all ECDHE + AEAD:", " ".join(sorted(set(names))))
elif what == "pfs":
    assert finding("PFS") == "offered", finding("PFS")
    pfs = set(finding("PFS_ciphers").split())
    suites = {f["finding"].split()[3] for f in findings if f["id"].startswith("cipher-tls")}
    missing = suites - pfs
    assert suites and not missing, ("suites without forward secrecy", missing)
    print("forward secrecy on all", len(suites), "suites; curves:", finding("PFS_ECDHE_curves"))
elif what == "chain":
    assert finding("certs_countServer") == "2", ("certificates sent", finding("certs_countServer"))
    assert finding("cert_chain_of_trust").startswith("passed"), finding("cert_chain_of_trust")
    assert finding("certs_list_ordering_problem") == "no", finding("certs_list_ordering_problem")
    na = datetime.datetime.strptime(finding("cert_notAfter"), "%Y-%m-%d %H:%M")
    left = (na.replace(tzinfo=datetime.timezone.utc).timestamp() - time.time())
    assert left > 3600, ("the server certificate expires too soon", finding("cert_notAfter"))
    print("2 certificates sent, chain of trust passed, %.1f h of validity left" % (left / 3600))
PY
}
check "no finding of severity MEDIUM, HIGH or CRITICAL" audit severity
last_output
check "only TLS 1.2 and TLS 1.3 are offered" audit protocols
last_output
check "every accepted suite is ECDHE with an AEAD cipher (no CBC, RSA kx, NULL, export, anon, RC4, 3DES)" audit ciphers
last_output
check "forward secrecy on every suite" audit pfs
last_output
check "the full chain is sent and verifies to the root" audit chain
last_output

# Cross-check the chain with OpenSSL too: exactly two certificates on the wire.
chain_count() {
  local n
  n=$(openssl s_client -connect "127.0.0.1:$HTTPS_PORT" -showcerts </dev/null 2>/dev/null |
    grep -c 'BEGIN CERTIFICATE')
  echo "$n certificates"
  test "$n" -eq 2
}
check "openssl s_client sees leaf and intermediate" chain_count
stop_server TERM
expect_eq "SIGTERM exits 0" "$SRV_RC" 0
finish
