#!/bin/sh
# Installs what nibble needs on Debian 12 (bookworm), all as Debian packages:
#   scripts/setup-debian.sh               build and train (g++, CMake, the libraries)
#   scripts/setup-debian.sh --tests       also clang 19 with libFuzzer and the sanitizer runtimes,
#                                         Fashion-MNIST (/usr/share/datasets/fashion-mnist) for an end-to-end test,
#                                         numpy and Pillow for the test of scripts/jpeg_quality.py, and
#                                         the Arm bare-metal compiler, newlib and QEMU for the Cortex-M tests
#   scripts/setup-debian.sh --benchmarks  also Google Benchmark, OpenBLAS, PyTorch and matplotlib
#   scripts/setup-debian.sh --data        also curl, then CIFAR-10 into data/cifar-10-batches-bin
#                                         (downloaded, MD5 checked; see scripts/fetch-cifar10.sh), unless
#                                         it is there already or NIBBLE_DATA names a complete copy
#   scripts/setup-debian.sh --data --archive FILE   CIFAR-10 from a cifar-10-binary.tar.gz at hand
# (--with-benchmarks is the old spelling of --benchmarks.)
set -eu
packages="g++ cmake make libxtensor-dev libxsimd-dev libboost-dev catch2 libfmt-dev libcli11-dev zlib1g-dev"
data=""
archive=""
while [ $# -gt 0 ]; do
  case "$1" in
    --tests) packages="$packages clang-19 libclang-rt-19-dev libomp-19-dev dataset-fashion-mnist python3-numpy python3-pil gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm" ;;
    --benchmarks | --with-benchmarks) packages="$packages libbenchmark-dev libopenblas-dev python3-torch python3-matplotlib" ;;
    --data) data=1 ;;
    --archive)
      [ $# -ge 2 ] || { echo "setup-debian.sh: --archive needs a file" >&2; exit 2; }
      data=1; archive="$2"; shift ;;
    *) echo "setup-debian.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ -z "$data" ] || packages="$packages curl ca-certificates"
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
if [ -n "$data" ]; then
  # As the user who ran this script (not through sudo), so that data/ is theirs.
  if [ -n "$archive" ]; then
    sh "$(dirname "$0")/fetch-cifar10.sh" --archive "$archive"
  else
    sh "$(dirname "$0")/fetch-cifar10.sh"
  fi
fi
