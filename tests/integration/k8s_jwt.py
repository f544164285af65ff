#!/usr/bin/env python3
"""k8s_jwt.py: test-only Kubernetes-style JWTs, signed with the openssl CLI
(Debian's python3 has no JWT library and the tests stay dependency-free).

  k8s_jwt.py keys DIR                 RSA and EC P-256 signing keys + DIR/jwks.json
  k8s_jwt.py token DIR ALG KID JSON [KEY]
                                      a token; ALG is RS256, ES256, HS256 or none;
                                      JSON holds the claims ("now+N" / "now-N"
                                      strings in exp/iat/nbf are made absolute);
                                      KEY overrides DIR's signing key file
"""
import base64
import json
import os
import subprocess
import sys
import time


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def openssl(*args, data=None):
    return subprocess.run(["openssl", *args], input=data, check=True,
                          capture_output=True).stdout


def int_bytes(hexstr):
    n = int(hexstr, 16)
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


def keys(d):
    rsa, ec = os.path.join(d, "k8s-rsa.key"), os.path.join(d, "k8s-ec.key")
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", rsa)
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", ec)
    mod = openssl("rsa", "-in", rsa, "-noout", "-modulus").decode().strip().split("=")[1]
    # The EC public point: 04 || X || Y, the last 65 bytes of the DER SPKI.
    spki = openssl("pkey", "-in", ec, "-pubout", "-outform", "DER")
    point = spki[-65:]
    jwks = {"keys": [
        {"kty": "RSA", "kid": "rsa1", "alg": "RS256", "use": "sig",
         "n": b64url(int_bytes(mod)), "e": b64url(int_bytes("010001"))},
        {"kty": "EC", "kid": "ec1", "alg": "ES256", "use": "sig", "crv": "P-256",
         "x": b64url(point[1:33]), "y": b64url(point[33:65])},
    ]}
    with open(os.path.join(d, "jwks.json"), "w") as f:
        json.dump(jwks, f)


def der_ecdsa_to_raw(sig):
    # SEQUENCE { INTEGER r, INTEGER s } -> r || s, 32 bytes each (JWS ES256).
    assert sig[0] == 0x30
    i = 2 if sig[1] < 0x80 else 3
    out = b""
    for _ in range(2):
        assert sig[i] == 0x02
        n = sig[i + 1]
        v = sig[i + 2:i + 2 + n].lstrip(b"\0")
        out += v.rjust(32, b"\0")
        i += 2 + n
    return out


def token(d, alg, kid, claims_json, key=None):
    now = int(time.time())
    claims = json.loads(claims_json)
    for k in ("exp", "iat", "nbf"):
        v = claims.get(k)
        if isinstance(v, str) and v.startswith("now"):
            claims[k] = now + int(v[3:] or "0")
    header = {"alg": alg, "typ": "JWT"}
    if kid:
        header["kid"] = kid
    signing_input = (b64url(json.dumps(header).encode()) + "." +
                     b64url(json.dumps(claims).encode())).encode()
    if alg == "none":
        sig = b""
    elif alg == "RS256":
        sig = openssl("dgst", "-sha256", "-sign", key or os.path.join(d, "k8s-rsa.key"),
                      data=signing_input)
    elif alg == "ES256":
        der = openssl("dgst", "-sha256", "-sign", key or os.path.join(d, "k8s-ec.key"),
                      data=signing_input)
        sig = der_ecdsa_to_raw(der)
    elif alg == "HS256":
        # The classic confusion attack: the HMAC secret is the public key.
        secret = openssl("rsa", "-in", os.path.join(d, "k8s-rsa.key"), "-pubout")
        sig = openssl("dgst", "-sha256", "-mac", "HMAC", "-macopt",
                      "hexkey:" + secret.hex(), "-binary", data=signing_input)
    else:
        raise SystemExit("unknown alg " + alg)
    print(signing_input.decode() + "." + b64url(sig))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "keys":
        keys(sys.argv[2])
    elif len(sys.argv) in (6, 7) and sys.argv[1] == "token":
        token(*sys.argv[2:])
    else:
        raise SystemExit(__doc__)
