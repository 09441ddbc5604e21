/* nibble's C reference runtime: the forward pass of a network exported as a
 * C99 header (io/c_header.hpp). It is a C file of its own, compiled as it
 * stands by a test (-std=c99 -Wall -Wextra -pedantic -Werror); the exporter
 * embeds its text (the lines between the two NIBBLE_EMBED_C_RUNTIME guards)
 * after the network's tables, with NIBBLE_C(name) naming everything with
 * the header's prefix and NIBBLE_C_API set to static, so that several
 * networks live in one program.
 */
#ifdef NIBBLE_EMBED_C_RUNTIME
R"NIBBLE_C(//"
#endif
#ifndef NIBBLE_C
/* Compiled on its own: names of its own and an external entry point. */
#include <math.h>
#include <stdint.h>
#define NIBBLE_C(name) nibble_##name
#define NIBBLE_C_API
#endif

/* One row of a network's layer table. */
typedef struct {
  int kind; /* NIBBLE_C_CONV ... */
  int in_c, in_h, in_w, out_c, out_h, out_w;
  int kernel, stride, pad, relu;
  int weight_bits;     /* 4: two codes per byte, low nibble first; 8: one signed byte */
  int activation_bits; /* 0: float input; else the input becomes unsigned codes on the layer's grid */
  int norm;            /* a folded batch norm follows the epilogue */
  long codes, floats;  /* offsets into the network's codes and floats */
} NIBBLE_C(layer);

/* The layer kinds (io/c_header.hpp's c_kind). */
#define NIBBLE_C_CONV 1
#define NIBBLE_C_LINEAR 2
#define NIBBLE_C_RELU 3
#define NIBBLE_C_MAXPOOL 4
#define NIBBLE_C_FLATTEN 5
#define NIBBLE_C_AVGPOOL 6
#define NIBBLE_C_AFFINE 7
#define NIBBLE_C_IMAGE 8


/* Weight code i of a layer: 4-bit codes two per byte, low nibble first; 8-bit codes one signed byte each. */
static int32_t NIBBLE_C(weight)(const NIBBLE_C(layer) * l, const uint8_t* codes, long i) {
  const uint8_t* c = codes + l->codes;
  if (l->weight_bits == 4) {
    const int32_t v = (c[i >> 1] >> ((i & 1) * 4)) & 15;
    return v >= 8 ? v - 16 : v;
  }
  return (int32_t)(int8_t)c[i];
}

/* The input code of x, centred on the zero point: clamp(round(x / step) + zero, 0, max) - zero. */
static float NIBBLE_C(centred_code)(float x, float step, float zero, float max_code) {
  float c = nearbyintf(x / step) + zero;
  if (c < 0.0f) c = 0.0f;
  if (c > max_code) c = max_code;
  return c - zero;
}

/* Convolution (a linear layer is one with a 1x1 image and a kernel covering its input). */
static void NIBBLE_C(conv)(const NIBBLE_C(layer) * l, const uint8_t* codes, const float* floats, float* x,
                          float* y) {
  const int integer = l->activation_bits > 0;
  const float* f = floats + l->floats;
  const int k = l->kernel > 0 ? l->kernel : 1;
  const long fan_in = (long)l->in_c * k * k;
  const float* multiplier;
  const float* offset;
  int o, oy, ox, c, ky, kx;
  if (integer) {
    const long n = (long)l->in_c * l->in_h * l->in_w;
    const float max_code = (float)((1 << l->activation_bits) - 1);
    long i;
    for (i = 0; i < n; ++i) x[i] = NIBBLE_C(centred_code)(x[i], f[0], f[1], max_code);
    f += 2;
  }
  multiplier = f;
  offset = f + l->out_c;
  for (o = 0; o < l->out_c; ++o)
    for (oy = 0; oy < l->out_h; ++oy)
      for (ox = 0; ox < l->out_w; ++ox) {
        int32_t acc = 0;
        float sum = 0.0f, v;
        for (c = 0; c < l->in_c; ++c)
          for (ky = 0; ky < k; ++ky)
            for (kx = 0; kx < k; ++kx) {
              const int iy = oy * (l->stride > 0 ? l->stride : 1) + ky - l->pad;
              const int ix = ox * (l->stride > 0 ? l->stride : 1) + kx - l->pad;
              const int32_t w = NIBBLE_C(weight)(l, codes, o * fan_in + ((long)c * k + ky) * k + kx);
              float xv;
              if (iy < 0 || ix < 0 || iy >= l->in_h || ix >= l->in_w) continue; /* padding: code z, centred 0 */
              xv = x[((long)c * l->in_h + iy) * l->in_w + ix];
              if (integer) acc += w * (int32_t)xv;
              else sum += (float)w * xv;
            }
        v = (integer ? (float)acc : sum) * multiplier[o] + offset[o];
        if (l->norm) v = v * f[2 * l->out_c + o] + f[3 * l->out_c + o];
        if (l->relu && v < 0.0f) v = 0.0f;
        y[((long)o * l->out_h + oy) * l->out_w + ox] = v;
      }
}

/* Runs the network of `layers` (count of them, with its codes and floats) on one image (C x H x W bytes, the
   pixel values as they are); work holds work_floats floats, twice the largest activation. Returns the outputs,
   inside work (0 for a layer kind it does not know). */
NIBBLE_C_API const float* NIBBLE_C(run)(const NIBBLE_C(layer) * layers, int count, const uint8_t* codes,
                                        const float* floats, const uint8_t* image, float* work, long work_floats) {
  float* x = work;
  float* y = work + work_floats / 2;
  long i;
  int n;
  for (n = 0; n < count; ++n) {
    const NIBBLE_C(layer)* l = &layers[n];
    const long planes = l->in_c, pixels = (long)l->in_h * l->in_w;
    float* t;
    switch (l->kind) {
      case NIBBLE_C_IMAGE: { /* the first layer: bytes to normalised floats, v * scale + bias in one rounding */
        const float* f = floats + l->floats;
        for (i = 0; i < planes * pixels; ++i) y[i] = fmaf((float)image[i], f[i / pixels], f[planes + i / pixels]);
        break;
      }
      case NIBBLE_C_CONV:
      case NIBBLE_C_LINEAR:
        NIBBLE_C(conv)(l, codes, floats, x, y);
        break;
      case NIBBLE_C_RELU:
        for (i = 0; i < planes * pixels; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
        break;
      case NIBBLE_C_MAXPOOL: {
        const int k = l->kernel;
        int c, oy, ox, dy, dx;
        for (c = 0; c < l->out_c; ++c)
          for (oy = 0; oy < l->out_h; ++oy)
            for (ox = 0; ox < l->out_w; ++ox) {
              float m = x[((long)c * l->in_h + oy * k) * l->in_w + ox * k];
              for (dy = 0; dy < k; ++dy)
                for (dx = 0; dx < k; ++dx) {
                  const float v = x[((long)c * l->in_h + oy * k + dy) * l->in_w + ox * k + dx];
                  if (v > m) m = v;
                }
              y[((long)c * l->out_h + oy) * l->out_w + ox] = m;
            }
        break;
      }
      case NIBBLE_C_FLATTEN:
        for (i = 0; i < planes * pixels; ++i) y[i] = x[i];
        break;
      case NIBBLE_C_AVGPOOL:
        for (i = 0; i < planes; ++i) {
          float s = 0.0f;
          long p;
          for (p = 0; p < pixels; ++p) s += x[i * pixels + p];
          y[i] = s / (float)pixels;
        }
        break;
      case NIBBLE_C_AFFINE: {
        const float* f = floats + l->floats;
        for (i = 0; i < planes * pixels; ++i) {
          float v = x[i] * f[i / pixels] + f[planes + i / pixels];
          y[i] = l->relu && v < 0.0f ? 0.0f : v;
        }
        break;
      }
      default:
        return 0;
    }
    t = x;
    x = y;
    y = t;
  }
  return x;
}
#ifdef NIBBLE_EMBED_C_RUNTIME
//")NIBBLE_C"
#endif
