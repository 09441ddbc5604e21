// A deployed network takes the image's bytes and normalises them itself:
// giving evaluate normalised floats would cast them to bytes and report
// nonsense, so it does not compile.
// expect: a deployed network takes the image's bytes \(an image_batch or a byte dataset\), not normalised floats
#include <nibble/deploy/convert.hpp>
#include <nibble/layers/conv2d.hpp>
#include <nibble/layers/flatten.hpp>
#include <nibble/layers/linear.hpp>
#include <nibble/net/sequential.hpp>
#include <nibble/quant/presets.hpp>
#include <nibble/train/evaluate.hpp>

using net = nibble::sequential<nibble::input<1, 4, 4>, nibble::conv2d<2, 3, nibble::w4a8>, nibble::flatten,
                               nibble::linear<2, nibble::w4a8>>;

double accuracy(nibble::deploy::deployed_t<net>& deployed, const nibble::activation& normalised,
                const std::vector<std::int32_t>& labels) {
  return nibble::evaluate(deployed, normalised, labels).accuracy;
}
