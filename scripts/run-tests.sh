#!/bin/sh
# Every test nibble has, from a clean clone on Debian 12 (what .ci/run runs):
#   1. g++ 12, -march=native: the whole test suite (build/);
#   2. clang 19 with AddressSanitizer and UndefinedBehaviorSanitizer, baseline
#      x86-64 (the portable kernels): the test suite again (build-sanitize/);
#   3. libFuzzer on every reader, FUZZ_SECONDS each (default 30), after replaying
#      the inputs that once found a fault (tests/fuzz/regressions/).
# Stops at the first failure.
set -eu
cd "$(dirname "$0")/.."
fuzz_seconds="${FUZZ_SECONDS:-30}"
stage() { printf '\n== %s (%s)\n' "$1" "$(date +%H:%M:%S)"; }

stage "setup"
scripts/setup-debian.sh --tests

stage "g++: build and test"
cmake -S . -B build -DNIBBLE_NATIVE=ON
cmake --build build -j2
ctest --test-dir build --output-on-failure -j2

stage "clang 19 with sanitizers: build and test"
cmake -S . -B build-sanitize -DCMAKE_CXX_COMPILER=clang++-19 -DNIBBLE_SANITIZE=ON -DNIBBLE_BUILD_FUZZERS=ON
cmake --build build-sanitize -j2 --target nibble_tests nibble_fault_tests train_cifar10 fuzz_cifar_reader fuzz_idx_reader fuzz_checkpoint_reader fuzz_model_reader
NIBBLE_FAULT_KILLS=12 ctest --test-dir build-sanitize --output-on-failure -j2

stage "fuzzing every reader for ${fuzz_seconds} s"
for fuzzer in fuzz_cifar_reader fuzz_idx_reader fuzz_checkpoint_reader fuzz_model_reader; do
  corpus="build-sanitize/corpus/$fuzzer"
  mkdir -p "$corpus"
  log="build-sanitize/$fuzzer.log"
  # Inputs that once found a fault, and seeds, are replayed first (tests/fuzz/regressions/<fuzzer>/).
  regressions="tests/fuzz/regressions/$fuzzer"
  [ -d "$regressions" ] || regressions=""
  if ! build-sanitize/tests/fuzz/$fuzzer -max_total_time="$fuzz_seconds" -print_final_stats=1 \
      -artifact_prefix=build-sanitize/ "$corpus" $regressions >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "$fuzzer found a fault; the input that shows it is in build-sanitize/ (crash-*, leak-*, timeout-*)"
    exit 1
  fi
  grep -E "^(Done|stat::number_of_executed_units)" "$log" || true
done
stage "all tests passed"
