/* nibble's C runtime: the forward pass of a network exported as a C header
 * (io/c_header.hpp). It is a C file of its own, compiled as it stands by a
 * test (-std=c99 -Wall -Wextra -pedantic -Werror); the exporter embeds its
 * text (the lines between the two NIBBLE_EMBED_C_RUNTIME guards) after the
 * network's tables, with NIBBLE_C(name) naming everything with the header's
 * prefix and NIBBLE_C_API set to static, so that several networks live in
 * one program.
 *
 * Integer layers read u8 codes, channels last, and write u8 codes (or, the
 * last one, floats) with integers alone: int32 sums, and a requantization
 * by a multiplier and shift per channel (deploy/requantization.hpp) fitted
 * to the library's own epilogue, so the codes are the library's whatever
 * the compiler and its flags. Float layers (weight-only networks, layers
 * between an integer layer and pooling over the whole image) are compiled
 * only when NIBBLE_C_FLOATS is 1; they need <math.h> for fmaf. Residual
 * blocks' float sums are compiled only when NIBBLE_C_BLOCKS is 1, sums
 * formed in a layer's epilogue only when NIBBLE_C_INTEGER_SUMS is 1, and
 * integer depthwise convolutions only when NIBBLE_C_DEPTHWISE_CONV is 1.
 *
 * Each row names where in the arena it reads, keeps and writes: the
 * exporter plans the arena, so a residual block's input simply stays where
 * it is until its sum, which may be written over it.
 */
#if !defined(NIBBLE_C) && !defined(NIBBLE_EMBED_C_RUNTIME)
/* Compiled on its own: names of its own, an external entry point, every path. */
#include <stdint.h>
#include <string.h>
#define NIBBLE_C(name) nibble_##name
#define NIBBLE_C_API
#define NIBBLE_C_FLOATS 1
#define NIBBLE_C_BLOCKS 1
#define NIBBLE_C_INTEGER_SUMS 1
#define NIBBLE_C_DEPTHWISE_CONV 1
#endif
#ifdef NIBBLE_EMBED_C_RUNTIME
R"NIBBLE_C(//"
#endif
#if NIBBLE_C_FLOATS
#include <math.h>
#endif

/* One row of a network's layer table. */
typedef struct {
  int kind; /* NIBBLE_C_CONV ... */
  int in_c, in_h, in_w, out_c, out_h, out_w;
  int kernel, kernel_w, stride, pad, pad_w, relu; /* kernel and padding along the height, then the width */
  int weight_bits;         /* 4: two codes per byte, low nibble first; 8: one signed byte */
  int codes_in, codes_out; /* 1: u8 codes, 2: int16 addends (a residual sum's terms), channels last; 0: floats,
                              channel by channel */
  int norm;                /* float output: a folded batch norm follows the epilogue */
  int sum;                 /* a residual block's sum is formed in this layer's epilogue, with the kept term's
                              u8 codes (1) or int16 addends (2) */
  long weights, ints, floats; /* offsets into the network's bytes, ints and floats */
  long in_at, kept_at, out_at; /* byte offsets into the arena: its input, a residual block's kept term, its output */
} NIBBLE_C(layer);

/* The layer kinds (deploy/table_row.hpp's layer_kind; 10, 12 and 14 mark a residual block for the exporter and
   make no rows). */
#define NIBBLE_C_CONV 1
#define NIBBLE_C_LINEAR 2
#define NIBBLE_C_RELU 3
#define NIBBLE_C_MAXPOOL 4
#define NIBBLE_C_FLATTEN 5
#define NIBBLE_C_AVGPOOL 6
#define NIBBLE_C_AFFINE 7
#define NIBBLE_C_IMAGE 8
#define NIBBLE_C_QUANTIZE 9
#define NIBBLE_C_ADD 11
#define NIBBLE_C_QUANTIZED_ADD 13
#define NIBBLE_C_DEPTHWISE 15

/* A residual sum's terms are codes within +-255 of their step (quant/quantized_sum.hpp's addend_limit). */
#define NIBBLE_C_ADDEND_LIMIT 255

/* The code of a sum: one of its filter's exceptions, or floor((acc * m + c) / 2^shift) clamped to [lo, hi]
   (codes 0 ... 65535). q holds m; shift; lo and hi (16 bits each); c (its low and high 32 bits); where the
   exceptions (a sum and its code, by increasing sum) begin in ints, and how many there are. */
static int32_t NIBBLE_C(requantize)(int32_t acc, const int32_t* q, const int32_t* ints) {
  const int64_t c = (int64_t)q[4] * 4294967296LL + (int64_t)(uint32_t)q[3];
  const int64_t v = (int64_t)acc * q[0] + c;
  const int shift = q[1];
  const int32_t lo = (int32_t)((uint32_t)q[2] & 65535u), hi = (int32_t)((uint32_t)q[2] >> 16);
  if (q[6] > 0) { /* the first exception at or past acc, by bisection */
    const int32_t* e = ints + q[5];
    int32_t first = 0, last = q[6];
    while (first < last) {
      const int32_t mid = (first + last) / 2;
      if (e[2 * mid] < acc)
        first = mid + 1;
      else
        last = mid;
    }
    if (first < q[6] && e[2 * first] == acc) return e[2 * first + 1];
  }
  if (v < 0) return lo; /* lo >= 0 */
  {
    const uint64_t r = (uint64_t)v >> shift; /* one 64-bit shift, then 64-bit compares with small numbers */
    return r < (uint64_t)lo ? lo : r > (uint64_t)hi ? hi : (int32_t)r;
  }
}

/* The Cortex-M DSP extension (M4, M7, M33...): SMLAD multiplies two pairs of 16-bit halves and adds both
   products; four codes widen to two such pairs at once (UXTB16, SXTB16: bytes 0 and 2, and with a rotation bytes 1
   and 3), as CMSIS-NN does. Define NIBBLE_C_NO_DSP to use the plain loop anyway. */
#if !defined(NIBBLE_C_DSP) && defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32) && !defined(NIBBLE_C_NO_DSP)
#define NIBBLE_C_DSP 1
#include <arm_acle.h>
#endif
#ifdef NIBBLE_C_DSP
static uint32_t NIBBLE_C(word)(const void* p) {
  uint32_t v;
  memcpy(&v, p, 4); /* one unaligned load */
  return v;
}
#if defined(__GNUC__)
/* Bytes 1 and 3 widened, the rotation folded into the instruction (GCC's ACLE lacks it). */
static uint32_t NIBBLE_C(odd_u)(uint32_t v) {
  uint32_t r;
  __asm__("uxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
  return r;
}
static int32_t NIBBLE_C(odd_s)(uint32_t v) {
  int32_t r;
  __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
  return r;
}
#else
static uint32_t NIBBLE_C(odd_u)(uint32_t v) { return __uxtb16((v >> 8) | (v << 24)); }
static int32_t NIBBLE_C(odd_s)(uint32_t v) { return __sxtb16((int32_t)((v >> 8) | (v << 24))); }
#endif
#endif

/* Codes first ... first + n of a layer as signed bytes: 4-bit codes a byte at a time, 8-bit ones copied. */
static void NIBBLE_C(unpack)(const NIBBLE_C(layer) * l, const uint8_t* bytes, long first, long n, int8_t* out) {
  const uint8_t* c = bytes + l->weights;
  long i = 0;
  if (l->weight_bits == 8) {
    memcpy(out, c + first, (size_t)n);
    return;
  }
  c += first >> 1;
  if (first & 1) out[i++] = (int8_t)(((*c++ >> 4) ^ 8) - 8);
  for (; i + 2 <= n; i += 2, ++c) { /* low nibble first; (v ^ 8) - 8 sign-extends 4 bits */
    out[i] = (int8_t)(((*c & 15) ^ 8) - 8);
    out[i + 1] = (int8_t)(((*c >> 4) ^ 8) - 8);
  }
  if (i < n) out[i] = (int8_t)(((*c & 15) ^ 8) - 8);
}

/* Two filters' weight codes as the dot products read them, kernel row by kernel row (n codes a row): the row's
   groups of four codes, filter o's four then filter o + 1's (zeros without one), then its last n % 4 codes, filter
   o's then o + 1's. `codes` is room for one filter's codes in their own order. */
static void NIBBLE_C(pair_weights)(const NIBBLE_C(layer) * l, const uint8_t* bytes, int o, int pair, int k, long n,
                                   int8_t* codes, int8_t* out) {
  const long fan_in = n * k, tail = n % 4;
  long i;
  int f, ky;
  for (f = 0; f < 2; ++f) {
    const int8_t* u = codes;
    int8_t* to = out + f * 4;
    if (f == 0 || pair)
      NIBBLE_C(unpack)(l, bytes, (long)(o + f) * fan_in, fan_in, codes);
    else
      memset(codes, 0, (size_t)fan_in);
    for (ky = 0; ky < k; ++ky, u += n) {
      for (i = 0; i + 4 <= n; i += 4, to += 8) memcpy(to, u + i, 4);
      memcpy(to - f * 4 + f * tail, u + n - tail, (size_t)tail);
      to += 2 * tail;
    }
  }
}

/* x0 and x1: two pixels' codes under one kernel row (n each); w: two filters' weights for it (pair_weights);
   a[pixel * 2 + filter] += the four dot products. */
static void NIBBLE_C(dot2x2)(const uint8_t* x0, const uint8_t* x1, const int8_t* w, long n, int32_t* a) {
  int32_t a00 = a[0], a01 = a[1], a10 = a[2], a11 = a[3];
  const long tail = n % 4;
  const uint8_t* end = x0 + (n - tail);
  long j;
  for (; x0 < end; x0 += 4, x1 += 4, w += 8) {
#ifdef NIBBLE_C_DSP
    const uint32_t u = NIBBLE_C(word)(w), v = NIBBLE_C(word)(w + 4);
    const int32_t ue = __sxtb16((int32_t)u), uo = NIBBLE_C(odd_s)(u);
    const int32_t ve = __sxtb16((int32_t)v), vo = NIBBLE_C(odd_s)(v);
    const uint32_t p = NIBBLE_C(word)(x0), q = NIBBLE_C(word)(x1);
    const int32_t pe = (int32_t)__uxtb16(p), po = (int32_t)NIBBLE_C(odd_u)(p);
    const int32_t qe = (int32_t)__uxtb16(q), qo = (int32_t)NIBBLE_C(odd_u)(q);
    a00 = __smlad(po, uo, __smlad(pe, ue, a00));
    a01 = __smlad(po, vo, __smlad(pe, ve, a01));
    a10 = __smlad(qo, uo, __smlad(qe, ue, a10));
    a11 = __smlad(qo, vo, __smlad(qe, ve, a11));
#else
    int32_t p = x0[0], q = x1[0], u = w[0], v = w[4];
    a00 += p * u, a01 += p * v, a10 += q * u, a11 += q * v;
    p = x0[1], q = x1[1], u = w[1], v = w[5];
    a00 += p * u, a01 += p * v, a10 += q * u, a11 += q * v;
    p = x0[2], q = x1[2], u = w[2], v = w[6];
    a00 += p * u, a01 += p * v, a10 += q * u, a11 += q * v;
    p = x0[3], q = x1[3], u = w[3], v = w[7];
    a00 += p * u, a01 += p * v, a10 += q * u, a11 += q * v;
#endif
  }
  for (j = 0; j < tail; ++j) {
    const int32_t p = x0[j], q = x1[j], u = w[j], v = w[tail + j];
    a00 += p * u;
    a01 += p * v;
    a10 += q * u;
    a11 += q * v;
  }
  a[0] = a00, a[1] = a01, a[2] = a10, a[3] = a11;
}

/* Where an integer layer's outputs go: its row, its ints (from its own), the floats, the output, the kept term
   and the output's pixels; one pointer for them, as a Cortex-M passes four arguments in registers. */
typedef struct {
  const NIBBLE_C(layer) * l;
  const int32_t* ints;
  const float* floats;
  void* y;
  const uint8_t* kept;
  long pixels;
} NIBBLE_C(sink);

/* One output of an integer layer, filter o at output pixel p (of pixels), from its uncentred sum: a code, or the
   library's float epilogue: the centred sum scaled in double (kernels/scaled_sums.hpp: the product of two floats
   is exact in double, so fused or not, the one rounding is the same), then the folded batch norm and ReLU. The
   last layer of a residual block's body adds the kept term (in kept) to its own term's code, and requantizes that
   integer sum with the block's requantizer (after the filters'; it absorbs both terms' offsets), or writes it as
   step * (sum - offset); a code is written where its kept term was read, so y may be kept itself. */
static void NIBBLE_C(integer_output)(const NIBBLE_C(sink) * t, int o, long p, int32_t acc) {
  const NIBBLE_C(layer)* l = t->l;
  const int32_t* ints = t->ints;
  const float* floats = t->floats;
  const long pixels = t->pixels;
  void* y = t->y;
  const uint8_t* kept = t->kept;
#if NIBBLE_C_INTEGER_SUMS
  if (l->sum) {
    const long at = p * l->out_c + o;
    const int32_t n = NIBBLE_C(requantize)(acc, ints + 1 + 7 * o, ints) +
                      (l->sum == 1 ? (int32_t)kept[at] : (int32_t)((const int16_t*)kept)[at]);
    if (l->codes_out) {
      ((uint8_t*)y)[at] = (uint8_t)NIBBLE_C(requantize)(n, ints + 1 + 7 * l->out_c, ints);
    } else {
      const float* f = floats + l->floats;
      ((float*)y)[(long)o * pixels + p] = f[0] * (float)(n - (int32_t)f[1]);
    }
    return;
  }
#else
  (void)kept;
#endif
  if (l->codes_out == 1) {
    ((uint8_t*)y)[p * l->out_c + o] = (uint8_t)NIBBLE_C(requantize)(acc, ints + 1 + 7 * o, ints);
  } else if (l->codes_out == 2) { /* a residual sum's term: its code on the block's step, centred */
    ((int16_t*)y)[p * l->out_c + o] = (int16_t)(NIBBLE_C(requantize)(acc, ints + 1 + 7 * o, ints) - NIBBLE_C_ADDEND_LIMIT);
  } else {
    const float* f = floats + l->floats;
    const float centred = (float)(acc - ints[1 + o]);
    float v = (float)((double)f[o] * (double)centred + (double)f[l->out_c + o]);
#if NIBBLE_C_FLOATS
    if (l->norm) v = fmaf(f[2 * l->out_c + o], v, f[3 * l->out_c + o]);
#endif
    if (l->relu && !(v > 0.0f)) v = 0.0f;
    ((float*)y)[(long)o * pixels + p] = v;
  }
}

/* The kernel's input rows under output row oy of a convolution on codes, channels last: the input's own rows
   without padding, else copies of them framed by pad pixels of the zero point, in rows. */
static const uint8_t* NIBBLE_C(window)(const NIBBLE_C(layer) * l, const uint8_t* x, int oy, uint8_t zero,
                                       uint8_t* rows) {
  const int k = l->kernel > 0 ? l->kernel : 1, s = l->stride > 0 ? l->stride : 1, c_in = l->in_c;
  const long row = (long)(l->in_w + 2 * l->pad_w) * c_in;
  int ky;
  if (l->pad == 0 && l->pad_w == 0) return x + (long)oy * s * l->in_w * c_in;
  for (ky = 0; ky < k; ++ky) { /* input row oy * s + ky - pad */
    const int iy = oy * s + ky - l->pad;
    uint8_t* r = rows + ky * row;
    if (iy < 0 || iy >= l->in_h) {
      memset(r, zero, (size_t)row);
    } else {
      memset(r, zero, (size_t)(l->pad_w * c_in));
      memcpy(r + l->pad_w * c_in, x + (long)iy * l->in_w * c_in, (size_t)(l->in_w * c_in));
      memset(r + (long)(l->pad_w + l->in_w) * c_in, zero, (size_t)(l->pad_w * c_in));
    }
  }
  return rows;
}

/* An integer convolution (a linear layer is one with a 1x1 image): u8 codes in, channels last; weights filter by
   filter in (ky, kx, c) order; ints: the input's zero point (the padding's code), then per filter its
   requantization (7 ints) and the exceptions, or, with float outputs, z times its weights' sum. Two filters by two
   pixels at a time; scratch holds the kernel's input rows, padded (when there is padding), two filters' weights
   (pair_weights) and one filter's. */
static void NIBBLE_C(integer_conv)(const NIBBLE_C(layer) * l, const uint8_t* bytes, const int32_t* ints,
                                   const float* floats, const uint8_t* x, void* y, uint8_t* scratch,
                                   const uint8_t* kept) {
  const int k = l->kernel > 0 ? l->kernel : 1, kw = l->kernel_w > 0 ? l->kernel_w : 1;
  const int s = l->stride > 0 ? l->stride : 1, c_in = l->in_c;
  const long row = (long)(l->in_w + 2 * l->pad_w) * c_in, segment = (long)kw * c_in;
  const uint8_t zero = (uint8_t)ints[l->ints];
  const NIBBLE_C(sink) t = {l, ints + l->ints, floats, y, kept, (long)l->out_h * l->out_w};
  uint8_t* rows = scratch;
  int8_t* weights = (int8_t*)(scratch + (l->pad > 0 || l->pad_w > 0 ? k * row : 0)); /* after the rows, if any */
  const int codes = l->codes_out == 1 && !l->sum; /* most layers: codes out, no sum to form (integer_output) */
  int o, oy, ox, ky;
  for (o = 0; o < l->out_c; o += 2) {
    const int pair = o + 1 < l->out_c;
    NIBBLE_C(pair_weights)(l, bytes, o, pair, k, segment, weights + 2 * segment * k, weights);
    for (oy = 0; oy < l->out_h; ++oy) {
      const uint8_t* window = NIBBLE_C(window)(l, x, oy, zero, rows);
      for (ox = 0; ox < l->out_w; ox += 2) {
        const int two = ox + 1 < l->out_w;
        const long p = (long)oy * l->out_w + ox;
        int32_t a[4] = {0, 0, 0, 0};
        for (ky = 0; ky < k; ++ky) {
          const uint8_t* x0 = window + ky * row + (long)ox * s * c_in;
          NIBBLE_C(dot2x2)(x0, two ? x0 + s * c_in : x0, weights + 2 * ky * segment, segment, a);
        }
        if (codes) {
          const int32_t* q = t.ints + 1 + 7 * o;
          uint8_t* out = (uint8_t*)y + p * l->out_c + o;
          out[0] = (uint8_t)NIBBLE_C(requantize)(a[0], q, t.ints);
          if (pair) out[1] = (uint8_t)NIBBLE_C(requantize)(a[1], q + 7, t.ints);
          if (two) out[l->out_c] = (uint8_t)NIBBLE_C(requantize)(a[2], q, t.ints);
          if (two && pair) out[l->out_c + 1] = (uint8_t)NIBBLE_C(requantize)(a[3], q + 7, t.ints);
        } else {
          NIBBLE_C(integer_output)(&t, o, p, a[0]);
          if (pair) NIBBLE_C(integer_output)(&t, o + 1, p, a[1]);
          if (two) NIBBLE_C(integer_output)(&t, o, p + 1, a[2]);
          if (two && pair) NIBBLE_C(integer_output)(&t, o + 1, p + 1, a[3]);
        }
      }
    }
  }
}

#if NIBBLE_C_DEPTHWISE_CONV
/* An integer depthwise convolution: u8 codes in, channels last; channel c against filter c's K x K codes alone.
   The codes are unpacked once, after the rows in scratch, tap by tap (tap t of filter c at t * channels + c) so
   that four channels' codes lie in one word as the pixel's do: the DSP loop takes four channels a tap with two
   loads (SMLABB and SMLATT on the 16-bit halves). ints and floats as integer_conv's. */
static void NIBBLE_C(integer_depthwise)(const NIBBLE_C(layer) * l, const uint8_t* bytes, const int32_t* ints,
                                        const float* floats, const uint8_t* x, void* y, uint8_t* scratch,
                                        const uint8_t* kept) {
  const int k = l->kernel, s = l->stride > 0 ? l->stride : 1, c_in = l->in_c, taps = k * k;
  const long row = (long)(l->in_w + 2 * l->pad_w) * c_in;
  const uint8_t zero = (uint8_t)ints[l->ints];
  const NIBBLE_C(sink) t = {l, ints + l->ints, floats, y, kept, (long)l->out_h * l->out_w};
  const uint8_t* packed = bytes + l->weights;
  int8_t* weights = (int8_t*)(scratch + (l->pad > 0 || l->pad_w > 0 ? k * row : 0));
  const int codes = l->codes_out == 1 && !l->sum; /* as integer_conv's */
  long i;
  int c, oy, ox, ky, kx;
  for (i = 0; i < (long)c_in * taps; ++i) /* code i is filter i / taps's tap i % taps */
    weights[(i % taps) * c_in + i / taps] = (int8_t)(l->weight_bits == 4
                                                         ? (((packed[i >> 1] >> ((i & 1) * 4)) & 15) ^ 8) - 8
                                                         : (int8_t)packed[i]);
  for (oy = 0; oy < l->out_h; ++oy) {
    const uint8_t* window = NIBBLE_C(window)(l, x, oy, zero, scratch);
    for (ox = 0; ox < l->out_w; ++ox) {
      const uint8_t* in = window + (long)ox * s * c_in;
      const long p = (long)oy * l->out_w + ox;
      for (c = 0; c + 4 <= c_in; c += 4) {
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        const int8_t* w = weights + c;
        for (ky = 0; ky < k; ++ky) {
          const uint8_t* r = in + ky * row + c;
          for (kx = 0; kx < k; ++kx, r += c_in, w += c_in) {
#ifdef NIBBLE_C_DSP
            const uint32_t u = NIBBLE_C(word)(r), v = NIBBLE_C(word)(w);
            const int32_t ue = (int32_t)__uxtb16(u), uo = (int32_t)NIBBLE_C(odd_u)(u);
            const int32_t ve = __sxtb16((int32_t)v), vo = NIBBLE_C(odd_s)(v);
            a0 = __smlabb(ue, ve, a0), a2 = __smlatt(ue, ve, a2);
            a1 = __smlabb(uo, vo, a1), a3 = __smlatt(uo, vo, a3);
#else
            a0 += (int32_t)r[0] * w[0], a1 += (int32_t)r[1] * w[1];
            a2 += (int32_t)r[2] * w[2], a3 += (int32_t)r[3] * w[3];
#endif
          }
        }
        if (codes) {
          const int32_t* q = t.ints + 1 + 7 * c;
          uint8_t* out = (uint8_t*)y + p * c_in + c;
          out[0] = (uint8_t)NIBBLE_C(requantize)(a0, q, t.ints);
          out[1] = (uint8_t)NIBBLE_C(requantize)(a1, q + 7, t.ints);
          out[2] = (uint8_t)NIBBLE_C(requantize)(a2, q + 14, t.ints);
          out[3] = (uint8_t)NIBBLE_C(requantize)(a3, q + 21, t.ints);
        } else {
          NIBBLE_C(integer_output)(&t, c, p, a0);
          NIBBLE_C(integer_output)(&t, c + 1, p, a1);
          NIBBLE_C(integer_output)(&t, c + 2, p, a2);
          NIBBLE_C(integer_output)(&t, c + 3, p, a3);
        }
      }
      for (; c < c_in; ++c) { /* the channels after the last four */
        const int8_t* w = weights + c;
        int32_t acc = 0;
        for (ky = 0; ky < k; ++ky)
          for (kx = 0; kx < k; ++kx, w += c_in) acc += (int32_t)in[ky * row + kx * c_in + c] * *w;
        NIBBLE_C(integer_output)(&t, c, p, acc);
      }
    }
  }
}
#endif

/* clamp(nearbyint(x / step), lo, hi) for integers lo <= 0 <= hi, as the library rounds: half to even, without
   <math.h>. */
static int32_t NIBBLE_C(rounded)(float x, float step, int32_t lo, int32_t hi) {
  const float q = x / step;
  int32_t i;
  float d;
  if (!(q > (float)lo)) return lo;
  if (q > (float)hi) return hi;
  i = (int32_t)q;
  d = q - (float)i; /* exact */
  if (d > 0.5f || (d == 0.5f && (i & 1))) ++i;
  if (d < -0.5f || (d == -0.5f && (i & 1))) --i;
  return i < lo ? lo : i > hi ? hi : i;
}

/* The code of x on a grid (step, zero point, largest code): clamp(nearbyint(x / step) + zero, 0, max) as the
   library's code_of. */
static uint8_t NIBBLE_C(code_of)(float x, float step, int zero, int max) {
  return (uint8_t)(NIBBLE_C(rounded)(x, step, -zero, max - zero) + zero);
}

#if NIBBLE_C_FLOATS
/* Weight code i of a layer: 4-bit codes two per byte, low nibble first; 8-bit codes one signed byte each. */
static int32_t NIBBLE_C(weight)(const NIBBLE_C(layer) * l, const uint8_t* bytes, long i) {
  const uint8_t* c = bytes + l->weights;
  if (l->weight_bits == 4) {
    const int32_t v = (c[i >> 1] >> ((i & 1) * 4)) & 15;
    return v >= 8 ? v - 16 : v;
  }
  return (int32_t)(int8_t)c[i];
}

/* A convolution with float inputs and weight codes (weight-only networks), channel by channel; a depthwise one
   reads only its own channel. */
static void NIBBLE_C(float_conv)(const NIBBLE_C(layer) * l, const uint8_t* bytes, const float* floats,
                                 const float* x, float* y) {
  const float* f = floats + l->floats;
  const int k = l->kernel > 0 ? l->kernel : 1, kw = l->kernel_w > 0 ? l->kernel_w : 1;
  const int s = l->stride > 0 ? l->stride : 1;
  const int depthwise = l->kind == NIBBLE_C_DEPTHWISE;
  const long fan_in = (long)(depthwise ? 1 : l->in_c) * k * kw;
  int o, oy, ox, c, ky, kx;
  for (o = 0; o < l->out_c; ++o)
    for (oy = 0; oy < l->out_h; ++oy)
      for (ox = 0; ox < l->out_w; ++ox) {
        float sum = 0.0f, v;
        for (c = depthwise ? o : 0; c < (depthwise ? o + 1 : l->in_c); ++c)
          for (ky = 0; ky < k; ++ky)
            for (kx = 0; kx < kw; ++kx) {
              const int iy = oy * s + ky - l->pad, ix = ox * s + kx - l->pad_w;
              if (iy < 0 || ix < 0 || iy >= l->in_h || ix >= l->in_w) continue;
              sum += (float)NIBBLE_C(weight)(l, bytes, o * fan_in + ((long)(depthwise ? 0 : c) * k + ky) * kw + kx) *
                     x[((long)c * l->in_h + iy) * l->in_w + ix];
            }
        v = fmaf(f[o], sum, f[l->out_c + o]);
        if (l->norm) v = fmaf(f[2 * l->out_c + o], v, f[3 * l->out_c + o]);
        if (l->relu && !(v > 0.0f)) v = 0.0f;
        y[((long)o * l->out_h + oy) * l->out_w + ox] = v;
      }
}
#endif

/* Runs the network of `layers` (count of them, with its bytes, ints and floats) on one image (C x H x W bytes, the
   pixel values as they are). The arena holds the tensors where the rows say, then from scratch_at the scratch of
   integer convolutions. Returns the outputs, inside the arena (0 for a layer this build does not run). */
NIBBLE_C_API const float* NIBBLE_C(run)(const NIBBLE_C(layer) * layers, int count, const uint8_t* bytes,
                                        const int32_t* ints, const float* floats, const uint8_t* image,
                                        float* arena, long scratch_at) {
  uint8_t* const base = (uint8_t*)arena;
  uint8_t* const scratch = base + scratch_at;
  int n;
  for (n = 0; n < count; ++n) {
    const NIBBLE_C(layer)* l = &layers[n];
    const long planes = l->in_c, pixels = (long)l->in_h * l->in_w;
    const uint8_t* const x = base + l->in_at;
    uint8_t* const y = base + l->out_at;
    long i, c;
    switch (l->kind) {
      case NIBBLE_C_IMAGE:
        if (l->codes_out) { /* a table per channel: the library's code of each normalised byte */
          const uint8_t* table = bytes + l->weights;
          for (i = 0; i < pixels; ++i)
            for (c = 0; c < planes; ++c) y[i * planes + c] = table[c * 256 + image[c * pixels + i]];
          break;
        }
#if NIBBLE_C_FLOATS
        { /* bytes to normalised floats, v * scale + bias in one rounding, as the library's */
          const float* f = floats + l->floats;
          for (i = 0; i < planes * pixels; ++i)
            ((float*)y)[i] = fmaf((float)image[i], f[i / pixels], f[planes + i / pixels]);
          break;
        }
#else
        return 0;
#endif
      case NIBBLE_C_QUANTIZE: { /* floats to codes, channels last, on the next layer's grid */
        const float* f = floats + l->floats;
        for (c = 0; c < planes; ++c)
          for (i = 0; i < pixels; ++i)
            y[i * planes + c] = NIBBLE_C(code_of)(((const float*)x)[c * pixels + i], f[0], (int)f[1], (int)f[2]);
        break;
      }
      case NIBBLE_C_CONV:
      case NIBBLE_C_LINEAR:
      case NIBBLE_C_DEPTHWISE:
        if (l->codes_in && l->kind == NIBBLE_C_DEPTHWISE) {
#if NIBBLE_C_DEPTHWISE_CONV
          NIBBLE_C(integer_depthwise)(l, bytes, ints, floats, x, y, scratch, base + l->kept_at);
          break;
#else
          return 0;
#endif
        }
        if (l->codes_in) {
          NIBBLE_C(integer_conv)(l, bytes, ints, floats, x, y, scratch, base + l->kept_at);
          break;
        }
#if NIBBLE_C_FLOATS
        NIBBLE_C(float_conv)(l, bytes, floats, (const float*)x, (float*)y);
        break;
#else
        return 0;
#endif
      case NIBBLE_C_MAXPOOL: {
        const int k = l->kernel;
        int oy, ox, dy, dx;
        for (c = 0; c < l->out_c; ++c)
          for (oy = 0; oy < l->out_h; ++oy)
            for (ox = 0; ox < l->out_w; ++ox)
              if (l->codes_in) { /* channels last */
                uint8_t m = 0;
                for (dy = 0; dy < k; ++dy)
                  for (dx = 0; dx < k; ++dx) {
                    const uint8_t v = x[((long)(oy * k + dy) * l->in_w + ox * k + dx) * planes + c];
                    if (v > m) m = v;
                  }
                y[((long)oy * l->out_w + ox) * planes + c] = m;
              } else {
                const float* in = (const float*)x;
                float m = in[(c * l->in_h + oy * k) * l->in_w + ox * k];
                for (dy = 0; dy < k; ++dy)
                  for (dx = 0; dx < k; ++dx) {
                    const float v = in[(c * l->in_h + oy * k + dy) * l->in_w + ox * k + dx];
                    if (v > m) m = v;
                  }
                ((float*)y)[(c * l->out_h + oy) * l->out_w + ox] = m;
              }
        break;
      }
      case NIBBLE_C_FLATTEN: /* codes: channels last to channel by channel, the order a linear layer reads */
        if (l->codes_in) {
          for (c = 0; c < planes; ++c)
            for (i = 0; i < pixels; ++i) y[c * pixels + i] = x[i * planes + c];
        } else if (y != x) { /* floats: as they are, where they are if the plan says so */
          memcpy(y, x, (size_t)(planes * pixels) * sizeof(float));
        }
        break;
      case NIBBLE_C_RELU:
        for (i = 0; i < planes * pixels; ++i) ((float*)y)[i] = ((const float*)x)[i] > 0.0f ? ((const float*)x)[i] : 0.0f;
        break;
      case NIBBLE_C_AVGPOOL:
        for (c = 0; c < planes; ++c) {
          float s = 0.0f;
          for (i = 0; i < pixels; ++i) s += ((const float*)x)[c * pixels + i];
          ((float*)y)[c] = s / (float)pixels;
        }
        break;
#if NIBBLE_C_BLOCKS && NIBBLE_C_FLOATS
      case NIBBLE_C_ADD: { /* the block's input added to its body's output, as the library adds them */
        const float* kept = (const float*)(base + l->kept_at);
        for (i = 0; i < planes * pixels; ++i) ((float*)y)[i] = kept[i] + ((const float*)x)[i];
        break;
      }
      case NIBBLE_C_QUANTIZED_ADD: { /* the library's quantized sum: both terms on one step, then added as integers */
        const float* f = floats + l->floats; /* the kept term's grid: step, zero point, largest code */
        const float* kept = (const float*)(base + l->kept_at);
        const int32_t zero = (int32_t)f[1], top = (int32_t)f[2];
        for (i = 0; i < planes * pixels; ++i) {
          const int32_t a = NIBBLE_C(rounded)(kept[i], f[0], -zero, top - zero);
          const int32_t b = NIBBLE_C(rounded)(((const float*)x)[i], f[0], -NIBBLE_C_ADDEND_LIMIT, NIBBLE_C_ADDEND_LIMIT);
          ((float*)y)[i] = f[0] * (float)(a + b);
        }
        break;
      }
#endif
#if NIBBLE_C_FLOATS
      case NIBBLE_C_AFFINE: {
        const float* f = floats + l->floats;
        for (i = 0; i < planes * pixels; ++i) {
          const float v = fmaf(f[i / pixels], ((const float*)x)[i], f[planes + i / pixels]);
          ((float*)y)[i] = l->relu && !(v > 0.0f) ? 0.0f : v;
        }
        break;
      }
#endif
      default:
        return 0;
    }
  }
  return count > 0 ? (const float*)(base + layers[count - 1].out_at) : 0;
}
#ifdef NIBBLE_EMBED_C_RUNTIME
//")NIBBLE_C"
#endif
