#!/usr/bin/env bash
# deps.sh: installs the Debian 12 packages signet builds, runs and tests with.
# Idempotent: it calls apt-get only when a package is missing. Needs root.
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang clang-format clang-tidy libclang-rt-14-dev
  libssl-dev openssl libmicrohttpd-dev libgnutls28-dev gnutls-bin liblmdb-dev lmdb-utils
  libjwt-dev libjansson-dev libcurl4-openssl-dev curl libcriterion-dev
  procps psmisc python3 testssl.sh faketime
)
if [ "${1:-}" = "--bench" ]; then
  packages+=(wrk golang-cfssl linux-perf valgrind gnuplot-nox)
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
