#pragma once
// A convolution straight from its definition, in double: the oracle the
// kernel tests compare every convolution kernel with.
#include <cstddef>
#include <vector>

#include "nibble/kernels/im2col.hpp"

namespace fixtures {

using nibble::kernels::conv_geometry;

// y = conv(x, w) + bias and dW = Σ dy ⋆ x, in double, from the definitions;
// dx = the adjoint of the convolution applied to dy.
struct reference {
  std::vector<float> y, dw, dx;
};
// With groups > 1, filter o sees only the input channels of its group
// (channels/groups of them; w: filters × channels/groups × K²); groups =
// channels = filters is a depthwise convolution.
inline reference convolve(const conv_geometry& g, std::size_t filters, std::size_t batch, const std::vector<float>& x,
                          const std::vector<float>& w, const std::vector<float>& bias, const std::vector<float>& dy,
                          std::size_t groups = 1) {
  const std::size_t kw = g.kernel_width, taps = g.taps(), oh = g.out_height(), ow = g.out_width();
  const std::size_t hw = g.height * g.width;
  const std::size_t group_in = g.channels / groups, group_out = filters / groups;
  reference r{std::vector<float>(batch * filters * oh * ow), {}, {}};
  std::vector<double> dw(w.size(), 0.0), dx(x.size(), 0.0);
  for (std::size_t n = 0; n < batch; ++n)
    for (std::size_t o = 0; o < filters; ++o)
      for (std::size_t oy = 0; oy < oh; ++oy)
        for (std::size_t ox = 0; ox < ow; ++ox) {
          const std::size_t out = ((n * filters + o) * oh + oy) * ow + ox;
          double sum = bias[o];
          for (std::size_t j = 0; j < group_in; ++j)
            for (std::size_t t = 0; t < taps; ++t) {
              const std::size_t c = o / group_out * group_in + j;
              const std::ptrdiff_t iy = std::ptrdiff_t(oy * g.stride + t / kw) - std::ptrdiff_t(g.padding);
              const std::ptrdiff_t ix = std::ptrdiff_t(ox * g.stride + t % kw) - std::ptrdiff_t(g.padding_width);
              if (iy < 0 || ix < 0 || iy >= std::ptrdiff_t(g.height) || ix >= std::ptrdiff_t(g.width)) continue;
              const std::size_t in = (n * g.channels + c) * hw + std::size_t(iy) * g.width + std::size_t(ix);
              const std::size_t wi = (o * group_in + j) * taps + t;
              sum += double(w[wi]) * x[in];
              dw[wi] += double(dy[out]) * x[in];
              dx[in] += double(dy[out]) * w[wi];
            }
          r.y[out] = float(sum);
        }
  r.dw.assign(dw.begin(), dw.end());
  r.dx.assign(dx.begin(), dx.end());
  return r;
}

}  // namespace fixtures
