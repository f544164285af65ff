-- ocsp.lua: wrk script for tests/bench/bench_ocsp.sh: POST the DER OCSP
-- request in $OCSP_REQ as application/ocsp-request. Each server's answer is
-- checked with `openssl ocsp` before it is measured; wrk counts non-2xx.
local f = assert(io.open(os.getenv("OCSP_REQ"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/ocsp-request"
