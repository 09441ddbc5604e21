#!/bin/sh
# Every test nibble has, from a clean clone on Debian 12 (what .ci/run runs):
#   1. g++ 12, -march=native: the whole test suite (build-tests/: a build of
#      its own, since it compiles the example programs at -O2, and the
#      CIFAR programs' catalogue of networks at -O1, which a training build
#      should not);
#   2. clang 19 with AddressSanitizer and UndefinedBehaviorSanitizer, baseline
#      x86-64 (the portable kernels): the library's test suite again
#      (build-sanitize/). The example programs, and the fault tests that run
#      train_cifar10 as a child, are built and run by stage 1 only: under
#      the sanitizers they doubled the time of this script;
#   3. libFuzzer on every reader, FUZZ_SECONDS each (default 30), two at a time,
#      after replaying the inputs that once found a fault (tests/fuzz/regressions/).
# Stops at the first failure.
set -eu
cd "$(dirname "$0")/.."
fuzz_seconds="${FUZZ_SECONDS:-30}"
stage() { printf '\n== %s (%s)\n' "$1" "$(date +%H:%M:%S)"; }

stage "setup"
scripts/setup-debian.sh --tests

stage "g++: build and test"
cmake -S . -B build-tests -DNIBBLE_NATIVE=ON -DNIBBLE_EXAMPLES_OPTIMIZATION=-O2 -DNIBBLE_CATALOGUE_OPTIMIZATION=-O1
cmake --build build-tests -j2
ctest --test-dir build-tests --output-on-failure -j2

stage "clang 19 with sanitizers: build and test"
cmake -S . -B build-sanitize -DCMAKE_CXX_COMPILER=clang++-19 -DNIBBLE_SANITIZE=ON -DNIBBLE_BUILD_FUZZERS=ON \
  -DNIBBLE_BUILD_EXAMPLES=OFF
cmake --build build-sanitize -j2
ctest --test-dir build-sanitize --output-on-failure -j2

stage "fuzzing every reader for ${fuzz_seconds} s"
# One fuzzer, in the background; its exit status is in build-sanitize/<fuzzer>.status.
fuzz() {
  corpus="build-sanitize/corpus/$1"
  mkdir -p "$corpus"
  # Inputs that once found a fault, and seeds, are replayed first (tests/fuzz/regressions/<fuzzer>/).
  regressions="tests/fuzz/regressions/$1"
  [ -d "$regressions" ] || regressions=""
  status="build-sanitize/$1.status"
  (if build-sanitize/tests/fuzz/$1 -max_total_time="$fuzz_seconds" -print_final_stats=1 \
        -artifact_prefix=build-sanitize/ "$corpus" $regressions >"build-sanitize/$1.log" 2>&1; then
     echo 0 >"$status"
   else
     echo 1 >"$status"
   fi) &
}
# Each fuzzer is one process on one core: two at a time.
for pair in "fuzz_cifar_reader fuzz_idx_reader" "fuzz_checkpoint_reader fuzz_model_reader"; do
  for fuzzer in $pair; do fuzz "$fuzzer"; done
  wait
  for fuzzer in $pair; do
    log="build-sanitize/$fuzzer.log"
    if [ "$(cat "build-sanitize/$fuzzer.status")" != 0 ]; then
      tail -n 60 "$log"
      echo "$fuzzer found a fault; the input that shows it is in build-sanitize/ (crash-*, leak-*, timeout-*)"
      exit 1
    fi
    echo "$fuzzer:"
    grep -E "^(Done|stat::number_of_executed_units)" "$log" || true
  done
done
stage "all tests passed"
