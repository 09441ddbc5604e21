#pragma once
// What the benchmarks that race nibble against OpenBLAS share: choosing
// OpenBLAS's kernels, and letting idle worker threads go quiet between runs.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

namespace nibble_bench {

// Which side of a comparison ran last. nibble_bf16 is nibble with bf16
// operands, for the benchmarks that show it beside the fp32 pair.
enum class library { nibble, nibble_bf16, openblas };

// Both libraries keep their idle worker threads spinning for a while after a
// call (OpenBLAS for ~2^28 cycles, libgomp briefly). On two cores that would
// steal a core from the next benchmark, so after multi-threaded work wait it
// out whenever the library or the thread count changes.
struct last_run {
  library lib = library::nibble;
  int threads = 1;
};
inline last_run last;

inline void settle(library lib, int threads) {
  if (last.threads > 1 && (last.lib != lib || last.threads != threads))
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  last = {lib, threads};
}

// The largest difference between nibble's results and OpenBLAS's, against
// the largest OpenBLAS result: both must agree before their speeds mean
// anything.
struct agreement {
  double max_err = 0, max_ref = 0;
  void add(float got, float want) {
    max_err = std::max(max_err, double(std::fabs(got - want)));
    max_ref = std::max(max_ref, double(std::fabs(want)));
  }
  bool close() const { return max_err <= 1e-4 * std::max(1.0, max_ref); }
};

// OpenBLAS picks its kernels by CPU when it is loaded, and OPENBLAS_CORETYPE
// overrides that. Its AVX-512 kernels ("SkylakeX") are what a fair
// comparison with nibble's AVX-512 kernels needs, but an environment may pin
// the AVX2 ones (OPENBLAS_CORETYPE=Haswell). So by default, on a CPU with
// AVX-512, the program restarts itself with OPENBLAS_CORETYPE=SkylakeX;
// --openblas_coretype=<name> picks another (Haswell, Zen, ...) and
// --openblas_coretype=env leaves the environment alone.
//
// Takes --openblas_coretype=<name> out of argv (Google Benchmark would reject
// it) and makes sure OPENBLAS_CORETYPE is <name> in this process, restarting
// it if needed: OpenBLAS reads the variable only when it is loaded.
inline void choose_openblas_kernels(int& argc, char** argv) {
  const std::string flag = "--openblas_coretype=";
  std::string wanted = __builtin_cpu_supports("avx512f") ? "SkylakeX" : "env";
  std::vector<char*> restart(argv, argv + argc);  // all flags, for the restarted process
  restart.push_back(nullptr);
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind(flag, 0) == 0)
      wanted = arg.substr(flag.size());
    else
      argv[kept++] = argv[i];
  }
  argc = kept;
  argv[argc] = nullptr;
  const char* current = std::getenv("OPENBLAS_CORETYPE");
  if (wanted == "env" || (current && wanted == current)) return;
  setenv("OPENBLAS_CORETYPE", wanted.c_str(), 1);
  execv("/proc/self/exe", restart.data());
  std::perror("could not restart with the chosen OPENBLAS_CORETYPE");  // carry on as loaded
}

}  // namespace nibble_bench
