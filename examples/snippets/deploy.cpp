// docs/guide/deployment.md: a trained network's deployed form, written as a
// model file and as a C header, loaded back and run on an image's bytes.
// Expects the weights a training run of net_type saved (save_weights) and
// CIFAR-10 in data/cifar-10-batches-bin.
#include <algorithm>
#include <memory>

#include <fmt/core.h>

// [snippet]
#include <nibble/nibble.hpp>
namespace data = nibble::data;

// Trained with 4-bit weights and 8-bit inputs (W4A8): it deploys to integer layers.
using net_type = nibble::sequential<nibble::input<3, 32, 32>,
    nibble::conv2d<32, 3, nibble::w4a8>, nibble::batch_norm_relu, nibble::max_pool2d<2>,
    nibble::conv2d<64, 3, nibble::w4a8>, nibble::batch_norm_relu, nibble::max_pool2d<2>,
    nibble::flatten, nibble::linear<10, nibble::w4a8>>;
using deployed_type = nibble::deploy::deployed_t<net_type>;  // inference layers only

int main() {
  const data::dataset test_set = data::read_cifar10("data/cifar-10-batches-bin", data::split::test);
  auto trained = std::make_unique<net_type>();
  nibble::load_weights("cifar-w4a8.weights", *trained);      // what save_weights wrote after training
  auto deployed = nibble::deploy::convert(*trained, test_set.norm);  // the normalisation training fed it
  nibble::save_model("cifar-w4a8.nibble", *deployed, {"my CIFAR net", {{"epochs", "20"}}});
  nibble::save_c_header("cifar_w4a8.h", *deployed, "cifar_w4a8");   // one C99 header, names prefixed

  auto loaded = nibble::load_model<deployed_type>("cifar-w4a8.nibble");  // refuses any other network
  nibble::image_batch images({1, 3, 32, 32});                // the image's bytes, N x C x H x W
  std::copy_n(test_set.image(0), images.size(), images.begin());
  nibble::context ctx{nibble::mode::eval};
  const nibble::activation& logits = loaded->forward(images, ctx);  // N x 10 x 1 x 1
  const auto best = std::max_element(logits.begin(), logits.end()) - logits.begin();
  fmt::print("image 0: class {} (labelled {})\n", best, test_set.labels[0]);
}
// [end snippet]
