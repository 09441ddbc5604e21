#pragma once
// Integer requantization: an integer layer's sum to the next layer's code
// with integers alone, code = clamp(floor((acc·m + c) / 2^shift), lo, hi),
// a multiplier and shift per channel as gemmlowp, TFLite Micro and CMSIS-NN
// requantize, here with a 64-bit offset.
//
// Fitted, not rounded. The library's epilogue — the scaled sum, the folded
// batch norm, ReLU, the next layer's code_of — is a monotone function of
// the integer sum (every float step is monotone), so over the sums a layer
// can reach it is a staircase: at most hi − lo thresholds where the code
// steps up (or down). fit_requantizer finds those thresholds by bisection
// on the library's own function, then an (m, c) whose staircase has the
// same thresholds. The two functions are then equal on every reachable
// sum, by construction: a program that requantizes with integers (the
// exported C, io/c_runtime.c) gets the codes the trained network's eval
// forward gets, bit for bit, whatever its compiler and flags.
//
// m is a 31-bit multiplier and shift the largest that keeps acc·m + c and
// (hi + 1)·2^shift within 62 bits. A float staircase is an affine one but
// for thresholds that a rounding moved across an integer sum; most often a
// line through all of them exists (and is found), but not always, as each
// moved threshold leans its own way: then the line with the most room, and
// the few sums where its code is not the library's are kept as exceptions
// (a sum and its code), which the requantizer checks first.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace nibble::deploy {

struct requantizer {
  std::int32_t multiplier = 0;  // m
  int shift = 0;                // 0 ... 53 (46 for 16-bit codes)
  std::int64_t offset = 0;      // c
  int lo = 0, hi = 255;         // the codes it clamps to: those of the ends of its range (0 ... 65535)
  // Sums whose code is not the line's (see above), with their codes, by
  // increasing sum (the C runtime bisects them).
  std::vector<std::pair<std::int32_t, std::int32_t>> exceptions;

  // floor((acc·m + c) / 2^shift), clamped to [lo, hi] (the C runtime's formula).
  int line(std::int32_t acc) const {
    const std::int64_t v = std::int64_t(acc) * multiplier + offset;
    if (v < (std::int64_t(lo) << shift)) return lo;
    if (v >= (std::int64_t(hi) + 1) << shift) return hi;
    return int(std::uint64_t(v) >> shift);
  }
  // The code of sum acc: an exception's, or the line's.
  int apply(std::int32_t acc) const {
    for (const auto& [at, code] : exceptions)
      if (at == acc) return code;
    return line(acc);
  }
  // The same staircase for sums that are acc − d: c grows by d·m.
  requantizer shifted_by(std::int32_t d) const {
    requantizer r = *this;
    r.offset += std::int64_t(d) * multiplier;
    for (auto& e : r.exceptions) e.first -= d;
    return r;
  }
};

// codes(acc, out, n): the library's codes of n sums, from 0 to 65535 (u8
// activation codes, or the offset codes of a residual block's addends);
// must be monotone in the sum over [first, last].
using code_function = std::function<void(const std::int32_t* acc, std::int32_t* codes, std::size_t n)>;

namespace detail {

// For a non-decreasing staircase: each code k in (f(first), f(last)] and
// the least sum whose code is at least k, found by bisection, all codes at
// once (one call of f per round).
inline std::vector<std::int64_t> thresholds(const code_function& f, std::int64_t first, std::int64_t last, int from,
                                            int to, int sign) {
  const std::size_t n = std::size_t(to - from);
  std::vector<std::int64_t> low(n, first), high(n, last);  // code(low) < k <= code(high)
  std::vector<std::int32_t> mid(n);
  std::vector<std::int32_t> codes(n);
  for (;;) {
    bool done = true;
    for (std::size_t i = 0; i < n; ++i) {
      mid[i] = std::int32_t(sign * (low[i] + (high[i] - low[i]) / 2));
      done = done && high[i] - low[i] <= 1;
    }
    if (done) break;
    f(mid.data(), codes.data(), n);
    for (std::size_t i = 0; i < n; ++i) {
      if (high[i] - low[i] <= 1) continue;
      const std::int64_t m = sign * std::int64_t(mid[i]);
      (int(codes[i]) >= from + 1 + int(i) ? high[i] : low[i]) = m;
    }
  }
  return high;
}

// The bounds (c ≥ every lower, c < every upper) a staircase with slope m
// must meet, as a − m·b pairs, and the room they leave.
struct bound {
  std::int64_t a, b;  // a − m·b
};
inline __int128 room(const std::vector<bound>& lower, const std::vector<bound>& upper, std::int64_t m,
                     std::int64_t* c = nullptr) {
  __int128 most_lower = -(__int128(1) << 100), least_upper = __int128(1) << 100;
  for (const bound& l : lower) most_lower = std::max(most_lower, __int128(l.a) - __int128(m) * l.b);
  for (const bound& u : upper) least_upper = std::min(least_upper, __int128(u.a) - __int128(m) * u.b);
  if (c) *c = std::int64_t(most_lower + (least_upper - most_lower - 1) / 2);
  return least_upper - most_lower;
}

}  // namespace detail

// The requantizer equal to f on every sum in [first, last] (see above),
// whose codes lie in [lo, hi]. `what` names the channel in the error that says no
// fit exists.
inline requantizer fit_requantizer(const code_function& f, std::int32_t first, std::int32_t last, int lo, int hi,
                                   const std::string& what) {
  requantizer r;
  r.lo = lo, r.hi = hi;
  std::int32_t ends[2];
  const std::int32_t ends_at[2] = {first, last};
  f(ends_at, ends, 2);
  // Its codes lie between those of the ends: the clamp (a ReLU's floor,
  // saturation) is exact there, whatever the line does beyond it.
  r.lo = std::max(lo, std::min(ends[0], ends[1])), r.hi = std::min(hi, std::max(ends[0], ends[1]));
  if (ends[0] == ends[1]) {  // one code for every sum
    r.offset = ends[0];
    return r;
  }
  // A non-increasing staircase is a non-decreasing one in −acc.
  const int sign = ends[0] < ends[1] ? 1 : -1;
  const std::int64_t a = sign > 0 ? first : -std::int64_t(last), b = sign > 0 ? last : -std::int64_t(first);
  const int from = sign > 0 ? ends[0] : ends[1], to = sign > 0 ? ends[1] : ends[0];
  const std::vector<std::int64_t> t = detail::thresholds(f, a, b, from, to, sign);

  // Slope in codes per unit of sum, from the outer thresholds; the shift
  // gives m 31 bits, within 62-bit sums.
  const double slope = t.size() > 1 ? double(t.size() - 1) / double(std::max<std::int64_t>(1, t.back() - t.front()))
                                    : 1.0 / double(b - a + 1);
  // (hi + 1)·2^shift within 62 bits: 53 for 8-bit codes, 46 for 16-bit ones.
  const int shift = std::clamp(int(std::floor(std::log2(double(1 << 30) / slope))), 0,
                               62 - int(std::bit_width(unsigned(r.hi) + 1u)));
  const std::int64_t one = std::int64_t(1) << shift;

  // Code k from t[k − from − 1] on: k·2^s − m·T ≤ c < k·2^s − m·(T − 1).
  std::vector<detail::bound> lower, upper;
  for (std::size_t i = 0; i < t.size(); ++i) {
    const std::int64_t k = from + 1 + std::int64_t(i);
    lower.push_back({k * one, t[i]});
    upper.push_back({k * one, t[i] - 1});
  }
  // room(m) is concave (the least of lines minus the most of lines): a
  // ternary search for its top over m in [1, 2^31), stopped by any m with
  // room, since any will do.
  std::int64_t m_lo = 1, m_hi = (std::int64_t(1) << 31) - 1, best = 0;
  while (best == 0 && m_hi - m_lo > 2) {
    const std::int64_t m1 = m_lo + (m_hi - m_lo) / 3, m2 = m_hi - (m_hi - m_lo) / 3;
    const __int128 r1 = detail::room(lower, upper, m1), r2 = detail::room(lower, upper, m2);
    if (r1 > 0)
      best = m1;
    else if (r2 > 0)
      best = m2;
    else if (r1 < r2)
      m_lo = m1 + 1;
    else if (r1 > r2)
      m_hi = m2 - 1;
    else
      m_lo = m1, m_hi = m2;
  }
  if (best == 0) {  // no line fits: the one with the most room, and exceptions
    best = m_lo;
    for (std::int64_t m = m_lo; m <= m_hi; ++m)
      if (detail::room(lower, upper, m) > detail::room(lower, upper, best)) best = m;
  }
  std::int64_t c = 0;
  detail::room(lower, upper, best, &c);
  r.multiplier = std::int32_t(sign * best);
  r.shift = shift;
  r.offset = c;

  // Where the line's threshold of a code k differs from the library's, the
  // sums between the two are candidates for exceptions (few: a threshold
  // moves by a sum or two, where a float rounding crossed an integer).
  std::vector<std::int32_t> candidates, critical;
  for (int k = from + 1; k <= to; ++k) {
    const std::int64_t library = t[std::size_t(k - from - 1)];
    const __int128 need = __int128(k) * one - c;  // the least t with t·m ≥ need
    __int128 at = need >= 0 ? (need + best - 1) / best : -((-need) / best);
    at = std::clamp<__int128>(at, a, b + 1);
    for (std::int64_t u = std::min<std::int64_t>(std::int64_t(at), library);
         u < std::max<std::int64_t>(std::int64_t(at), library); ++u) {
      candidates.push_back(std::int32_t(sign * u));
      if (candidates.size() > 4096)
        throw std::logic_error("nibble::deploy: the requantization of " + what + " strays from its float epilogue");
    }
    if (library > a && library <= b) critical.insert(critical.end(), {std::int32_t(sign * library),
                                                                      std::int32_t(sign * (library - 1))});
  }
  std::vector<std::int32_t> codes(candidates.size());
  f(candidates.data(), codes.data(), candidates.size());
  for (std::size_t i = 0; i < candidates.size(); ++i)
    if (r.line(candidates[i]) != codes[i]) r.exceptions.emplace_back(candidates[i], codes[i]);
  std::sort(r.exceptions.begin(), r.exceptions.end());
  r.exceptions.erase(std::unique(r.exceptions.begin(), r.exceptions.end()), r.exceptions.end());

  // Both sides of every threshold and every candidate, through the
  // requantizer: a check of the fit itself.
  critical.insert(critical.end(), candidates.begin(), candidates.end());
  codes.resize(critical.size());
  f(critical.data(), codes.data(), critical.size());
  for (std::size_t i = 0; i < critical.size(); ++i)
    if (r.apply(critical[i]) != codes[i])
      throw std::logic_error("nibble::deploy: the requantization fitted for " + what + " misses a threshold");
  return r;
}

}  // namespace nibble::deploy
