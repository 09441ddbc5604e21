#!/bin/sh
# Installs what nibble needs on Debian 12 (bookworm), all as Debian packages:
#   scripts/setup-debian.sh               build and train (g++, CMake, the libraries)
#   scripts/setup-debian.sh --tests       also clang 19 with libFuzzer and the sanitizer runtimes,
#                                         Fashion-MNIST (/usr/share/datasets/fashion-mnist) for an end-to-end test,
#                                         and numpy and Pillow for the test of scripts/jpeg_quality.py
#   scripts/setup-debian.sh --benchmarks  also Google Benchmark, OpenBLAS, PyTorch and matplotlib
# (--with-benchmarks is the old spelling of --benchmarks.)
set -eu
packages="g++ cmake make libxtensor-dev libxsimd-dev libboost-dev catch2 libfmt-dev libcli11-dev zlib1g-dev"
for option in "$@"; do
  case "$option" in
    --tests) packages="$packages clang-19 libclang-rt-19-dev libomp-19-dev dataset-fashion-mnist python3-numpy python3-pil" ;;
    --benchmarks | --with-benchmarks) packages="$packages libbenchmark-dev libopenblas-dev python3-torch python3-matplotlib" ;;
    *) echo "setup-debian.sh: unknown option $option" >&2; exit 2 ;;
  esac
done
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
