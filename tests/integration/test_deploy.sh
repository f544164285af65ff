#!/usr/bin/env bash
# test_deploy.sh: the Kubernetes manifests and the container image, offline.
# Renders deploy/k8s/base, deploy/k8s/examples and the site overlay (filled
# with a throwaway PKI and JWKS made here) with `kubectl kustomize`, validates
# every object against the Kubernetes OpenAPI schemas (tests/deploy/check.js,
# kubernetes-models 1.29+), asserts the hardening and wiring, and proves that
# each check fails on a copy with the property removed or broken. Then checks
# deploy/Dockerfile: every library the signet binary links must come from a
# Debian package that the runtime stage installs.
# Installs kubectl (kubernetes-client), nodejs and npm with apt when missing.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"

work=$TMP # lib.sh's temporary directory, removed on exit
checker="$top/tests/deploy/check.js"

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
command -v kubectl >/dev/null 2>&1 || apt_install kubernetes-client
command -v node >/dev/null 2>&1 || apt_install nodejs
command -v npm >/dev/null 2>&1 || apt_install npm
check "kubectl, node and npm are installed" command -v kubectl node npm

# npm ci only when the lock file changed since the last install.
stamp="$top/tests/deploy/node_modules/.signet-lock.sha256"
lock_sum=$(sha256sum "$top/tests/deploy/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$lock_sum" ]; then
  (cd "$top/tests/deploy" && npm ci --no-audit --no-fund --loglevel=error >"$work/npm.log" 2>&1) &&
    echo "$lock_sum" >"$stamp"
fi
check "npm ci installed the pinned kubernetes-models" test -f "$stamp" -a -d "$top/tests/deploy/node_modules/kubernetes-models/apps/v1"

# kubectl 1.20 (Debian 12's kubernetes-client) has kustomize v2.0.3, which
# takes directories only under `bases:`; kubectl >= 1.21 takes `resources:`.
minor=$(kubectl version --client -o json 2>/dev/null |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(parseInt(JSON.parse(s).clientVersion.minor,10)||0)}catch(e){console.log(0)}})')
echo "kubectl client minor version: $minor"

section render

cp -r "$top/deploy/k8s" "$work/k8s"
if [ "$minor" -lt 21 ]; then
  # Emulate kustomize v4+ on v2.0.3 for the overlay: directories under
  # `bases:`, and the projected-volume Secret name reference it lacks.
  sed -i 's/^resources:$/bases:/' "$work/k8s/overlays/site/kustomization.yaml"
  printf 'configurations:\n  - kustomizeconfig-v2.yaml\n' >>"$work/k8s/overlays/site/kustomization.yaml"
  printf 'nameReference:\n  - kind: Secret\n    version: v1\n    fieldSpecs:\n      - kind: StatefulSet\n        path: spec/template/spec/volumes/projected/sources/secret/name\n' \
    >"$work/k8s/overlays/site/kustomizeconfig-v2.yaml"
fi

check "kustomize renders the base" sh -c "kubectl kustomize '$top/deploy/k8s/base' >'$work/base.yaml'"
check "kustomize renders the example workload" sh -c "kubectl kustomize '$top/deploy/k8s/examples' >'$work/examples.yaml'"

# Site overlay with a throwaway PKI (EC P-256 root and intermediate, a root
# CRL), a JWKS with one key, and another trust domain.
site="$work/k8s/overlays/site"
pki="$site/pki"
mkdir -p "$pki/ca"
make_site_pki() (
  cd "$pki" || exit 1
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca/root.key -out root.crt \
    -days 2 -subj "/CN=throwaway test root" -addext "basicConstraints=critical,CA:TRUE,pathlen:1" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null || exit 1
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout intermediate.key \
    -out ca/intermediate.csr -subj "/CN=throwaway test intermediate" 2>/dev/null || exit 1
  printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectAltName=URI:spiffe://prod.test\n' >ca/ext.cnf
  openssl x509 -req -in ca/intermediate.csr -CA root.crt -CAkey ca/root.key -CAcreateserial -days 1 \
    -extfile ca/ext.cnf -out intermediate.crt 2>/dev/null || exit 1
  : >ca/index.txt
  echo 01 >ca/crlnumber
  printf '[ca]\ndefault_ca=d\n[d]\ndatabase=ca/index.txt\ncrlnumber=ca/crlnumber\ndefault_md=sha256\ndefault_crl_days=1\ncertificate=root.crt\nprivate_key=ca/root.key\n' >ca/ca.cnf
  openssl ca -gencrl -config ca/ca.cnf -out root.crl 2>/dev/null || exit 1
  # The root key stays out of the overlay, as it stays out of the cluster.
  mv ca "$work/ca"
)
check "a throwaway PKI for the site overlay is made" make_site_pki
node -e 'const c=require("crypto");const k=c.generateKeyPairSync("ec",{namedCurve:"P-256"}).publicKey.export({format:"jwk"});console.log(JSON.stringify({keys:[{...k,kid:"test",use:"sig",alg:"ES256"}]}))' >"$site/jwks.json"
sed -i 's/example\.org/prod.test/g' "$site/signet.json"
check "kustomize renders the site overlay" sh -c "kubectl kustomize '$site' >'$work/site.yaml'"
if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
  check "git ignores the site overlay's keys and JWKS" \
    git -C "$top" check-ignore deploy/k8s/overlays/site/pki/intermediate.key deploy/k8s/overlays/site/jwks.json \
    deploy/k8s/overlays/site/pki/root.crt
fi

section "schema, hardening, wiring"

for rendered in base examples site; do
  check "$rendered: every object validates against the Kubernetes OpenAPI schema" \
    node "$checker" schema "$work/$rendered.yaml"
done
check "base: server hardening, probes, single replica, config wiring" node "$checker" server "$work/base.yaml"
check "site: the same server checks hold after the overlay" node "$checker" server "$work/site.yaml"
check "site: Secret signet-pki, JWKS and trust domain prod.test are wired in" node "$checker" site "$work/site.yaml" prod.test
check "examples: agent native sidecar, projected token, shared SVID volume" node "$checker" workload "$work/examples.yaml"

section "the validator and the assertions bite"

# Each case below is one broken copy, "<what is broken>|--set or --delete SPEC"
# (the syntax is in tests/deploy/check.js). check.js runs all the cases of one
# command in one process; each case counts as one check here.
sts='StatefulSet/signet:spec.template.spec'
srv="$sts.containers[name=signet]"
dep='Deployment/web:spec.template.spec'
agent="$dep.initContainers[name=signet-agent]"
token="$dep.volumes[name=signet-token].projected.sources.0.serviceAccountToken"

expect_breaks() { # COMMAND RENDERED [ARG], cases on stdin
  local command=$1 rendered=$2 arg=${3:-} desc spec n=0
  local cases="$work/cases-$command-$rendered" out="$work/breaks-$command-$rendered"
  local descs=()
  : >"$cases"
  while IFS='|' read -r desc spec; do
    [ -n "$desc" ] || continue
    descs+=("$desc")
    echo "$spec" >>"$cases"
  done
  # shellcheck disable=SC2086
  node "$checker" "$command" "$work/$rendered.yaml" $arg --each-breaks "$cases" >"$out" 2>&1
  while read -r spec; do
    check "$command check fails on $rendered when ${descs[$n]}" grep -qF "breaks: $spec: " "$out"
    n=$((n + 1))
  done <"$cases"
  check "check.js ran all $n $command cases on $rendered" test "$(grep -c '^breaks: ' "$out")" -eq $n
}

expect_breaks schema base <<CASES
replicas is a string|--set StatefulSet/signet:spec.replicas="one"
the selector is missing|--delete StatefulSet/signet:spec.selector
a containerPort is a string|--set $srv.ports.0.containerPort="https"
CASES
expect_breaks schema examples <<CASES
the sidecar's restartPolicy is a number|--set $agent.restartPolicy=5
the token expiry is a string|--set $token.expirationSeconds="1h"
CASES
expect_breaks server base <<CASES
the pod lacks runAsNonRoot|--delete $sts.securityContext.runAsNonRoot
the container lacks runAsNonRoot|--delete $srv.securityContext.runAsNonRoot
the root filesystem is writable|--delete $srv.securityContext.readOnlyRootFilesystem
privilege escalation is allowed|--set $srv.securityContext.allowPrivilegeEscalation=true
no capability is dropped|--set $srv.securityContext.capabilities.drop=[]
seccomp is Unconfined|--set $sts.securityContext.seccompProfile.type="Unconfined"
the pod runs as root|--set $sts.securityContext.runAsUser=0
there are no resource limits|--delete $srv.resources.limits
liveness is not /healthz|--set $srv.livenessProbe.httpGet.path="/"
readiness is not /readyz|--set $srv.readinessProbe.httpGet.path="/healthz"
readiness probes the HTTPS port|--set $srv.readinessProbe.httpGet.port=8443
there are 2 replicas|--set StatefulSet/signet:spec.replicas=2
the API token is mounted|--set $sts.automountServiceAccountToken=true
the intermediate key is not mounted|--delete $sts.volumes[name=config].projected.sources.1.secret.items[key=intermediate.key]
the store is not on the claim|--set $srv.volumeMounts[name=data].mountPath="/data"
egress is allowed|--set NetworkPolicy/signet:spec.egress=[{}]
ingress opens port 22|--set NetworkPolicy/signet:spec.ingress.0.ports.0.port=22
the PDB blocks drains|--set PodDisruptionBudget/signet:spec.maxUnavailable=0
the Service is in another namespace|--set Service/signet:metadata.namespace="default"
CASES
expect_breaks workload examples <<CASES
the agent is not a native sidecar|--delete $agent.restartPolicy
the token audience is not signet|--set $token.audience="kubernetes"
the token lives a day|--set $token.expirationSeconds=86400
the agent's root filesystem is writable|--delete $agent.securityContext.readOnlyRootFilesystem
the app keeps capabilities|--set $dep.containers[name=web].securityContext.capabilities.drop=["NET_RAW"]
the API token is mounted|--set $dep.automountServiceAccountToken=true
the app does not share the SVID volume|--set $dep.containers[name=web].volumeMounts[name=svid].name="tmp"
CASES
expect_breaks site site prod.test <<'CASES'
the trust domain is the placeholder|--set ConfigMap/signet-config*:data.signet\.json="{\"trust_domain\":\"example.org\"}"
the JWKS is the empty placeholder|--set ConfigMap/signet-config*:data.k8s-jwks\.json="{\"keys\":[]}"
the Secret lacks the root CRL|--delete Secret/signet-pki*:data.root\.crl
CASES

section "the image: runtime libraries"

dockerfile="$top/deploy/Dockerfile"
# The packages the last stage installs: the words of its apt-get install.
runtime_pkgs=$(awk '/^FROM /{stage=""} {stage=stage $0 "\n"} END{printf "%s", stage}' "$dockerfile" |
  sed -e ':a' -e '/\\$/N; s/\\\n//; ta' | grep -E 'apt-get install' |
  sed -e 's/.*apt-get install//' -e 's/&&.*//' | tr ' ' '\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$' | sort -u)
echo "runtime stage installs:" $runtime_pkgs
check "the runtime stage is debian:12-slim running as 65532:65532" sh -c "
  grep -qx 'FROM debian:12-slim' '$dockerfile' && grep -qx 'USER 65532:65532' '$dockerfile' &&
  grep -qx 'ENTRYPOINT \[\"/usr/local/bin/signet\"\]' '$dockerfile' &&
  grep -qx 'CMD \[\"serve\", \"--config\", \"/etc/signet/signet.json\"\]' '$dockerfile' &&
  grep -qx 'EXPOSE 8443 8080' '$dockerfile' && grep -q -- '-DSIGNET_TESTS=OFF' '$dockerfile'"

apt-cache show libssl3 >/dev/null 2>&1 || apt-get update -qq >/dev/null 2>&1
# shellcheck disable=SC2086
apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
  --no-replaces --no-enhances $runtime_pkgs 2>/dev/null | grep -v '^[ <]' | sort -u >"$work/closure"

# Debian package of each library path, looked up with one dpkg -S per binary
# (usrmerge: a file may be registered under /lib or /usr/lib).
declare -A pkg_cache
fill_pkg_cache() { # paths...
  local f c line owner
  local q=()
  for f; do
    for c in "$f" "$(readlink -f "$f")"; do q+=("/usr${c#/usr}" "${c#/usr}"); done
  done
  [ ${#q[@]} -gt 0 ] || return 0
  while IFS= read -r line; do
    case $line in *": /"*) ;; *) continue ;; esac
    owner=${line%%: /*}
    f=${line#*: }
    pkg_cache[${f#/usr}]=${owner%%:*}
  done < <(dpkg -S "${q[@]}" 2>/dev/null)
}
pkg_of() { # library path -> package
  local c
  for c in "$1" "$(readlink -f "$1")"; do
    [ -n "${pkg_cache[${c#/usr}]:-}" ] && { echo "${pkg_cache[${c#/usr}]}"; return 0; }
  done
  return 1
}

# runtime_libs_ok BINARY: every NEEDED library is in a package the stage names
# (or libc6, which every Debian image has), and every library ldd resolves is
# in a package that those pull in. Sanitizer runtimes (the ASan build) are not
# part of the image and are skipped.
runtime_libs_ok() {
  local bin=$1 status=0 lib path pkg sanitizer=0
  readelf -d "$bin" | grep -qE 'NEEDED.*lib(a|ub|l|t)san\.so' && sanitizer=1
  # shellcheck disable=SC2046
  fill_pkg_cache $(ldd "$bin" | awk '/=>/ && $3 ~ /^\// {print $3}')
  for lib in $(readelf -d "$bin" | sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p'); do
    case $lib in lib*san.so*) continue ;; esac
    path=$(ldd "$bin" | awk -v l="$lib" '$1 == l {print $3}')
    pkg=$(pkg_of "$path") || { echo "no package owns $lib ($path)"; status=1; continue; }
    if [ "$pkg" != libc6 ] && ! grep -qx "$pkg" <<<"$runtime_pkgs"; then
      echo "$lib is in $pkg, which deploy/Dockerfile's runtime stage does not install"
      status=1
    fi
  done
  while read -r lib path; do
    case $lib in linux-vdso.so* | ld-linux* | lib*san.so*) continue ;; esac
    pkg=$(pkg_of "$path") || { echo "no package owns $lib ($path)"; status=1; continue; }
    [ $sanitizer -eq 1 ] && case $pkg in libstdc++6 | libgcc-s1) continue ;; esac
    grep -qx "$pkg" "$work/closure" || { echo "$lib ($pkg) is not installed by the runtime stage"; status=1; }
  done < <(ldd "$bin" | awk '/=>/ && $3 ~ /^\// {print $1, $3}')
  return $status
}

bin=$SIGNET_BIN
check "the signet binary exists ($bin)" test -x "$bin"
check "every library signet links comes from the runtime stage's packages" runtime_libs_ok "$bin"

# The binary links only what its code uses so far: a probe linked with every
# pkg-config module CMakeLists.txt links the binary with (the test-only
# Criterion aside) covers the libraries it will link.
modules=$(grep -oE 'pkg_check_modules\([A-Z_]+ REQUIRED IMPORTED_TARGET [^ )>=]+' "$top/CMakeLists.txt" |
  grep -v CRITERION | awk '{print $4}' | tr '\n' ' ')
echo 'int main(void) { return 0; }' >"$work/probe.c"
# shellcheck disable=SC2086
check "a probe links every CMake pkg-config module ($modules)" \
  sh -c "gcc -Wl,--no-as-needed -o '$work/probe' '$work/probe.c' \$(pkg-config --libs $modules) -lpthread"
check "the probe links 8 or more libraries" sh -c "[ \$(readelf -d '$work/probe' | grep -c NEEDED) -ge 8 ]"
check "every library of those modules comes from the runtime stage's packages" runtime_libs_ok "$work/probe"

# A runtime stage without liblmdb0 must fail the check.
runtime_pkgs_full=$runtime_pkgs
runtime_pkgs=$(grep -vx liblmdb0 <<<"$runtime_pkgs_full")
apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
  --no-replaces --no-enhances $runtime_pkgs 2>/dev/null | grep -v '^[ <]' | sort -u >"$work/closure"
check "a runtime stage without liblmdb0 fails the library check" expect_exit 1 runtime_libs_ok "$work/probe"
runtime_pkgs=$runtime_pkgs_full

if apt-cache policy hadolint 2>/dev/null | grep -q 'Candidate: [0-9]'; then
  command -v hadolint >/dev/null 2>&1 || apt_install hadolint
  check "hadolint passes deploy/Dockerfile" hadolint "$dockerfile"
else
  echo "skipped: hadolint (Debian 12 has no hadolint package)"
fi
