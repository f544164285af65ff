#!/usr/bin/env bash
# test_docs.sh: the documentation in docs/ cannot drift from the code.
# - docs/openapi.yaml is a valid OpenAPI document (offline validator
#   @apidevtools/swagger-parser, pinned by tests/docs/package-lock.json and
#   installed by `npm ci` into tests/docs/node_modules the first time);
# - its paths and methods are exactly the rows of the routing table in
#   api/http.c, and its x-plain-http flags match the table's plain_http column;
# - its Error codes are exactly the wire codes of API_ERRORS in api/api.h;
# - docs/operations.md names every metric that api/metrics.c renders and every
#   configuration key that api/config.c accepts;
# - every doc exists and every relative link between them resolves.
# Installs nodejs and npm with apt when they are missing.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"

docs=$top/docs
spec=$docs/openapi.yaml
pkg=$top/tests/docs

section tools
apt_updated=0
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if [ $apt_updated -eq 0 ]; then
    apt-get update -qq >/dev/null 2>&1
    apt_updated=1
  fi
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1
}
command -v node >/dev/null 2>&1 || apt_install nodejs
command -v npm >/dev/null 2>&1 || apt_install npm
check "node and npm are installed" command -v node npm

# npm ci only when the lock file changed since the last install, so that the
# test runs offline afterwards.
stamp=$pkg/node_modules/.signet-lock.sha256
lock_sum=$(sha256sum "$pkg/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$lock_sum" ]; then
  (cd "$pkg" && npm ci --no-audit --no-fund --loglevel=error >"$TMP/npm.log" 2>&1) &&
    echo "$lock_sum" >"$stamp"
fi
check "npm ci installed the pinned OpenAPI validator" \
  test -f "$stamp" -a -f "$pkg/node_modules/@apidevtools/swagger-parser/package.json"

section files
for f in architecture.md api.md openapi.yaml operations.md security.md; do
  check "docs/$f exists and is not empty" test -s "$docs/$f"
done

# links_resolve checks that every relative Markdown link target in docs/*.md
# (and README.md) names an existing file.
links_resolve() {
  local bad=0 md target
  for md in "$docs"/*.md "$top/README.md"; do
    while IFS= read -r target; do
      target=${target%%#*}
      [ -z "$target" ] && continue
      case $target in http://* | https://* | mailto:*) continue ;; esac
      if [ ! -e "$(dirname "$md")/$target" ]; then
        echo "$md: broken link $target"
        bad=1
      fi
    done < <(grep -o '](\([^)]*\))' "$md" | sed 's/^](\(.*\))$/\1/')
  done
  return $bad
}
check "relative links in docs/*.md and README.md resolve" links_resolve

section "openapi.yaml"
# validate_spec: schema validation of the whole document plus $ref resolution.
validate_spec() {
  (cd "$pkg" && node -e '
    const SwaggerParser = require("@apidevtools/swagger-parser");
    SwaggerParser.validate(process.argv[1])
      .then(api => { console.log("valid:", api.info.title, api.openapi); })
      .catch(e => { console.error(e.message); process.exit(1); });
  ' "$spec")
}
check "docs/openapi.yaml is a valid OpenAPI document" validate_spec

# spec_routes prints "METHOD path plain_http" for every operation.
spec_routes() {
  (cd "$pkg" && node -e '
    const SwaggerParser = require("@apidevtools/swagger-parser");
    SwaggerParser.parse(process.argv[1]).then(api => {
      for (const [path, item] of Object.entries(api.paths || {})) {
        for (const m of ["get", "post", "put", "delete", "patch", "head", "options"]) {
          if (item[m]) {
            console.log(m.toUpperCase(), path, item[m]["x-plain-http"] === true ? 1 : 0);
          }
        }
      }
    }).catch(e => { console.error(e.message); process.exit(1); });
  ' "$spec") | sort
}

# code_routes prints the same from the routing table of api/http.c: each row
# {API_ROUTE_X, "METHOD", "/pattern", "/name", plain_http, ...}; the name is
# the path with its parameter spelt as in OpenAPI ("/v1/certs/{serial}").
code_routes() {
  sed -n '/api_route routes\[\] = {/,/^};/p' "$top/api/http.c" | tr '\n' ' ' |
    grep -o '{API_ROUTE_[A-Z_]*, *"[A-Z]*", *"[^"]*", *"[^"]*", *[01]' |
    sed 's/^{API_ROUTE_[A-Z_]*, *"\([A-Z]*\)", *"[^"]*", *"\([^"]*\)", *\([01]\)$/\1 \2 \3/' | sort
}

spec_routes >"$TMP/spec.routes" 2>"$TMP/spec.err"
code_routes >"$TMP/code.routes"
check "the routing table of api/http.c parses into at least 17 routes" \
  test "$(wc -l <"$TMP/code.routes")" -ge 17
check "openapi.yaml lists operations" test -s "$TMP/spec.routes"
check "every route of api/http.c is in openapi.yaml and vice versa, with its plain-HTTP flag" \
  diff -u "$TMP/code.routes" "$TMP/spec.routes"

# Error codes: the wire codes of API_ERRORS except "ok".
code_errors() {
  grep -o 'X(API_ERR_[A-Z_]*, *"[a-z_]*"' "$top/api/api.h" | sed 's/.*"\([a-z_]*\)"$/\1/' | sort
}
spec_errors() {
  sed -n '/^    Error:/,/^        message:/p' "$spec" | grep -o '^            - [a-z_]*$' |
    sed 's/^ *- //' | sort
}
check "the Error schema's codes are exactly api.h's wire codes" \
  diff -u <(code_errors) <(spec_errors)

section "operations.md"
# Every metric name that api/metrics.c renders is documented.
metrics_documented() {
  local bad=0 m
  for m in $(grep -o 'signet_[a-z_]*' "$top/api/metrics.c" | sed 's/_\(bucket\|sum\|count\)$//' | sort -u); do
    grep -q "$m" "$docs/operations.md" || {
      echo "metric $m is not in docs/operations.md"
      bad=1
    }
  done
  return $bad
}
check "every metric of api/metrics.c is in docs/operations.md" metrics_documented

# Every key of the config walk (the keys[] arrays of api/config.c) is documented.
config_documented() {
  local bad=0 k
  for k in $(sed -n '/keys\[\] = {/,/};/p' "$top/api/config.c" | grep -o '"[a-z_]*"' | tr -d '"' | sort -u); do
    grep -q "\b$k\b" "$docs/operations.md" || {
      echo "config key $k is not in docs/operations.md"
      bad=1
    }
  done
  return $bad
}
check "every configuration key of api/config.c is in docs/operations.md" config_documented

# The validator must refuse a broken copy, or the checks above prove nothing.
section "the checks catch drift"
sed 's/^openapi: 3.1.0$/openapi: 3.1.0\nbogus_top_level_key: 1/' "$spec" >"$TMP/broken.yaml"
sed -i 's/^      operationId: sign$/      operationId: sign\n      responses_typo: {}/' "$TMP/broken.yaml"
# It must fail on the schema, not on YAML syntax.
refuses_broken() {
  (cd "$pkg" && node -e '
    require("@apidevtools/swagger-parser").validate(process.argv[1])
      .then(() => { console.log("accepted"); process.exit(1); })
      .catch(e => { console.log(e.message); process.exit(0); });
  ' "$TMP/broken.yaml") >"$TMP/broken.out" 2>&1
  cat "$TMP/broken.out"
  grep -q "schema validation failed" "$TMP/broken.out"
}
check "the validator refuses a copy with unknown fields" refuses_broken
route_drift_detected() {
  ! diff -q "$TMP/code.routes" <(grep -v ' /healthz ' "$TMP/spec.routes") >/dev/null
}
check "a route missing from openapi.yaml would be reported" route_drift_detected
