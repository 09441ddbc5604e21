#!/bin/sh
# Installs everything nibble needs to build, test and benchmark on Debian 12
# (bookworm): a C++20 compiler, CMake and the libraries, all as Debian packages.
set -eu
packages="g++ cmake make libxtensor-dev libxsimd-dev libboost-dev catch2 libfmt-dev libcli11-dev"
if [ "${1:-}" = "--with-benchmarks" ]; then
  packages="$packages libbenchmark-dev libopenblas-dev python3-torch"
fi
run() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "installing:$missing"
  run apt-get update
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
fi
