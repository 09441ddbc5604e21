#pragma once
// Threads for the compute kernels (OpenMP). Layers never start threads
// themselves; they call these.
#include <cstddef>

#include <omp.h>

namespace nibble::kernels {

inline int max_threads() { return omp_get_max_threads(); }
inline int core_count() { return omp_get_num_procs(); }
inline void set_threads(int n) {
  if (n > 0) omp_set_num_threads(n);
}
inline bool in_parallel() { return omp_in_parallel() != 0; }

// f(i, thread) for i in [0, n), statically split between the threads.
template <class F>
void parallel_for(std::size_t n, F&& f) {
#pragma omp parallel for schedule(static)
  for (std::ptrdiff_t i = 0; i < static_cast<std::ptrdiff_t>(n); ++i)
    f(static_cast<std::size_t>(i), omp_get_thread_num());
}

// f(begin, end, thread) over contiguous chunks, one per thread.
template <class F>
void parallel_chunks(std::size_t n, F&& f) {
#pragma omp parallel
  {
    const std::size_t t = static_cast<std::size_t>(omp_get_thread_num());
    const std::size_t nt = static_cast<std::size_t>(omp_get_num_threads());
    const std::size_t begin = n * t / nt, end = n * (t + 1) / nt;
    if (begin < end) f(begin, end, static_cast<int>(t));
  }
}

}  // namespace nibble::kernels
