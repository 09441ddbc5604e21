// Compile-time checks: which schemes and networks are valid, parameter
// counts and output shapes. Everything here is a static_assert; the one
// test case only makes the file show up in the test list.
#include <catch2/catch.hpp>

#include <nibble/deploy/integer_conv2d.hpp>
#include <nibble/layers/avg_pool2d.hpp>
#include <nibble/layers/batch_norm.hpp>
#include <nibble/layers/conv2d.hpp>
#include <nibble/layers/depthwise_conv2d.hpp>
#include <nibble/layers/dropout.hpp>
#include <nibble/layers/flatten.hpp>
#include <nibble/layers/global_avg_pool.hpp>
#include <nibble/layers/linear.hpp>
#include <nibble/layers/max_pool2d.hpp>
#include <nibble/net/ds_cnn.hpp>
#include <nibble/net/mobilenet_v1.hpp>
#include <nibble/net/resnet20.hpp>
#include <nibble/net/resnet8.hpp>
#include <nibble/net/whitened_vgg.hpp>
#include <nibble/layers/relu.hpp>
#include <nibble/net/residual.hpp>
#include <nibble/net/sequential.hpp>
#include <nibble/net/simple_resnet4bit.hpp>
#include <nibble/net/fast_vgg.hpp>
#include <nibble/net/vgg4bit.hpp>
#include <nibble/quant/presets.hpp>

#include <type_traits>

using namespace nibble;

namespace {

// ---------------------------------------------------------------------------
// Bit widths

static_assert(bits<2>::levels == 3);
static_assert(bits<4>::levels == 15);
static_assert(bits<4>::qmax == 7);
static_assert(bits<8>::levels == 255);
static_assert(bits<8>::qmax == 127);
static_assert(!bits<1>::valid && !bits<9>::valid);
static_assert(!full_precision::quantized);

// ---------------------------------------------------------------------------
// Schemes

template <class S>
struct valid_preset;
template <class B, class C, class Sc, class E, class... Options>
struct valid_preset<scheme<B, C, Sc, E, Options...>> : std::bool_constant<is_valid_scheme<B, C, Sc, E, Options...>> {};

static_assert(valid_preset<paper_4bit>::value);
static_assert(valid_preset<int8_scheme>::value);
static_assert(valid_preset<float32_scheme>::value);
static_assert(std::is_same_v<scheme_for_bits_t<4>, paper_4bit>);
static_assert(std::is_same_v<scheme_for_bits_t<8>, int8_scheme>);
static_assert(std::is_same_v<scheme_for_bits_t<32>, float32_scheme>);

static_assert(is_valid_scheme<bits<2>, no_clip, abs_max_per_channel, clipped_ste>);
static_assert(is_valid_scheme<bits<8>, hard_clip<1.0f>, abs_max_per_tensor, ste>);
static_assert(is_valid_scheme<full_precision, tanh_clip<3.0f>, no_scaling, ste>);

// Bit widths outside 2..8.
static_assert(!is_valid_scheme<bits<1>, no_clip, abs_max_per_tensor, ste>);
static_assert(!is_valid_scheme<bits<0>, no_clip, abs_max_per_tensor, ste>);  // invalid, not ill-formed
static_assert(is_valid_scheme<bits<4>, tanh_clip<3.0f>, abs_max_per_tensor, ste, bf16_arithmetic>);
static_assert(!is_valid_scheme<bits<4>, tanh_clip<3.0f>, abs_max_per_tensor, ste, int>);

// Activation policies: the integer-inference presets, and widths outside 2..8.
static_assert(valid_preset<w4a8>::value && valid_preset<w4a4>::value && valid_preset<w8a8>::value);
static_assert(w4a8::quantizes_activations && !paper_4bit::quantizes_activations);
static_assert(std::is_same_v<w4a8::activations, activation_bits<8>>);
static_assert(std::is_same_v<w4a4::activations, activation_bits<4>>);
static_assert(std::is_same_v<with_activations_t<w4a8, float_activations>, paper_4bit>);
static_assert(std::is_same_v<activations_for_bits_t<32>, float_activations>);
static_assert(activation_bits<8>::max_code == 255 && activation_bits<4>::max_code == 15);
static_assert(is_valid_scheme<bits<4>, tanh_clip<3.0f>, abs_max_per_tensor, ste, fp32_arithmetic, activation_bits<2>>);
static_assert(!is_valid_scheme<bits<4>, tanh_clip<3.0f>, abs_max_per_tensor, ste, fp32_arithmetic, activation_bits<9>>);
static_assert(!is_valid_scheme<bits<4>, tanh_clip<3.0f>, abs_max_per_tensor, ste, fp32_arithmetic, bits<8>>);
static_assert(!is_valid_scheme<bits<9>, no_clip, abs_max_per_tensor, ste>);
// Power-of-two activations: 2 to 4 bits, trained soft or with clipped_ste
// (plain ste would pass gradients past the top level).
static_assert(valid_preset<pot_w4a4>::value && !pot_w4a4::activations::uniform);
static_assert(is_valid_scheme<bits<4>, tanh_clip<3.0f>, abs_max_per_tensor, ste, power_of_two_activations<2, clipped_ste>>);
static_assert(!is_valid_scheme<bits<4>, tanh_clip<3.0f>, abs_max_per_tensor, ste, power_of_two_activations<5>>);
static_assert(!is_valid_scheme<bits<4>, tanh_clip<3.0f>, abs_max_per_tensor, ste, power_of_two_activations<4, ste>>);
// The accumulator bound counts power-of-two codes by their size: fan-in x 128 x 64.
static_assert(quantized_weight_matrix<pot_w4a4, 8, 2304>::largest_weight_code == 64);
static_assert(codes_fit_accumulator(2304, 64, 128) && !codes_fit_accumulator(270000, 64, 128));
// Scaling that does not fit the bit width.
static_assert(!is_valid_scheme<full_precision, no_clip, abs_max_per_tensor, ste>);
static_assert(!is_valid_scheme<full_precision, no_clip, abs_max_per_channel, ste>);
static_assert(!is_valid_scheme<bits<4>, no_clip, no_scaling, ste>);
// clipped_ste needs a quantizer range.
static_assert(!is_valid_scheme<full_precision, no_clip, no_scaling, clipped_ste>);
// Clip bounds must be positive.
static_assert(!is_valid_scheme<bits<4>, tanh_clip<0.0f>, abs_max_per_tensor, ste>);
static_assert(!is_valid_scheme<bits<4>, hard_clip<-1.0f>, abs_max_per_tensor, ste>);
static_assert(!is_valid_scheme<bits<4>, hard_clip<0.0f>, abs_max_per_tensor, ste>);
// Arguments in the wrong order.
static_assert(!is_valid_scheme<tanh_clip<3.0f>, bits<4>, abs_max_per_tensor, ste>);
static_assert(!is_valid_scheme<bits<4>, abs_max_per_tensor, tanh_clip<3.0f>, ste>);
static_assert(!is_valid_scheme<bits<4>, tanh_clip<3.0f>, ste, abs_max_per_tensor>);
static_assert(!is_valid_scheme<ste, abs_max_per_tensor, tanh_clip<3.0f>, bits<4>>);
// Not policies at all.
static_assert(!is_valid_scheme<int, no_clip, abs_max_per_tensor, ste>);

// Options after the fourth policy: any order, each kind at most once; the
// defaults (fp32, float activations, round to nearest) change nothing.
static_assert(is_valid_scheme<bits<4>, no_clip, abs_max_per_tensor, ste, stochastic_rounding, activation_bits<4>,
                              bf16_arithmetic>);
static_assert(!is_valid_scheme<bits<4>, no_clip, abs_max_per_tensor, ste, bf16_arithmetic, fp32_arithmetic>);
static_assert(!is_valid_scheme<bits<4>, no_clip, abs_max_per_tensor, ste, activation_bits<8>, activation_bits<4>>);
static_assert(!is_valid_scheme<bits<4>, no_clip, abs_max_per_tensor, ste, stochastic_rounding, round_to_nearest>);
static_assert(std::is_same_v<scheme<bits<4>, no_clip, abs_max_per_tensor, ste, activation_bits<8>, bf16_arithmetic>::
                                 arithmetic,
                             bf16_arithmetic>);
static_assert(std::is_same_v<paper_4bit::rounding, round_to_nearest> && !paper_4bit::stochastic);
static_assert(with_rounding_t<paper_4bit, stochastic_rounding>::stochastic);
static_assert(std::is_same_v<with_rounding_t<with_rounding_t<paper_4bit, stochastic_rounding>, round_to_nearest>,
                             paper_4bit>);
static_assert(std::is_same_v<with_arithmetic_t<with_arithmetic_t<w4a8, bf16_arithmetic>, fp32_arithmetic>, w4a8>);
// A float scheme has nothing to round.
static_assert(!scheme<full_precision, no_clip, no_scaling, ste, stochastic_rounding>::stochastic);

static_assert(quant_scheme<paper_4bit>);
static_assert(!quant_scheme<bits<4>>);

// ---------------------------------------------------------------------------
// Networks

template <class Net>
struct valid_model;
template <class In, class... Specs>
struct valid_model<sequential<In, Specs...>> : std::bool_constant<is_valid_network<In, Specs...>> {};

using f32 = float32_scheme;

static_assert(is_valid_network<input<3, 8, 8>, conv2d<4, 3, paper_4bit>, batch_norm, relu, max_pool2d<2>, flatten,
                               linear<10, paper_4bit>>);
static_assert(is_valid_network<input<3, 8, 8>, conv2d<4, 3, f32>, global_avg_pool, linear<10, f32>>);
static_assert(is_valid_network<input<4, 6, 6>, residual<conv2d<4, 3, f32>, batch_norm, relu, conv2d<4, 3, f32>>>);
static_assert(is_valid_network<input<16, 1, 1>, linear<8, f32>, batch_norm, relu, dropout<0.5f>, linear<2, f32>>);
static_assert(valid_model<vgg4bit<10, paper_4bit>>::value);
static_assert(valid_model<vgg4bit<100, int8_scheme>>::value);
static_assert(valid_model<simple_resnet4bit<10, paper_4bit>>::value);
static_assert(valid_model<simple_resnet4bit<10, f32>>::value);
static_assert(valid_model<fast_vgg<10, paper_4bit>>::value);
static_assert(valid_model<fast_vgg<10, f32>>::value);

// A network reads what its first layer reads: floats, or the u8 codes of
// a deployed integer layer that takes codes; it always writes floats.
static_assert(std::is_same_v<vgg4bit<10, paper_4bit>::input_tensor, activation>);
using codes_in_first =
    sequential<input<8, 4, 4>, deploy::integer_conv2d<8, 3, bits<4>, activation_bits<8>, 1, 1, deploy::codes_in>>;
static_assert(std::is_same_v<codes_in_first::input_tensor, code_activation>);

// linear directly after a convolution: its input is not flat.
static_assert(!is_valid_network<input<3, 8, 8>, conv2d<4, 3, f32>, linear<10, f32>>);
// A convolution after flatten: its input is flat.
static_assert(!is_valid_network<input<3, 8, 8>, flatten, conv2d<4, 3, f32>>);
static_assert(!is_valid_network<input<3, 8, 8>, global_avg_pool, conv2d<4, 1, f32>>);
// Pooling floors odd sizes, as torch does (5x5 -> 2x2), but needs one whole window.
static_assert(std::is_same_v<sequential<input<3, 5, 5>, max_pool2d<2>>::output_shape, shape<3, 2, 2>>);
static_assert(!is_valid_network<input<3, 2, 2>, max_pool2d<3>>);
static_assert(!is_valid_network<input<3, 8, 8>, conv2d<4, 3, f32, 2, 0>, max_pool2d<4>>);  // 3x3
// WhitenedVGG's sizes: 32 -> 32 (2x2 whitening of the reflect-extended image) -> 16 -> 8 -> 4 -> 1.
static_assert(std::is_same_v<whitened_vgg<10, paper_4bit>::output_shape, shape<10, 1, 1>>);
template <std::size_t I>
using whitened_vgg_layer = std::remove_cvref_t<decltype(std::declval<whitened_vgg<10, paper_4bit>&>().layer<I>())>;
static_assert(std::is_same_v<whitened_vgg_layer<0>::output_shape, shape<24, 32, 32>>);
static_assert(std::is_same_v<whitened_vgg_layer<3>::output_shape, shape<64, 16, 16>>);
static_assert(std::is_same_v<whitened_vgg_layer<24>::output_shape, shape<256, 1, 1>>);
// A residual body that changes the channel count or the image size.
static_assert(!is_valid_network<input<4, 6, 6>, residual<conv2d<8, 3, f32>>>);
static_assert(!is_valid_network<input<4, 6, 6>, residual<conv2d<4, 3, f32, 2>>>);
// With a projection shortcut a block may change both, if the shortcut
// changes them alike.
static_assert(is_valid_network<input<4, 6, 6>, residual<projection<conv2d<8, 1, f32, 2, 0>>, conv2d<8, 3, f32, 2>>>);
static_assert(!is_valid_network<input<4, 6, 6>, residual<projection<conv2d<8, 1, f32, 1, 0>>, conv2d<8, 3, f32, 2>>>);
static_assert(!is_valid_network<input<4, 6, 6>, residual<projection<conv2d<4, 1, f32, 2, 0>>, conv2d<8, 3, f32, 2>>>);
static_assert(!is_valid_network<input<4, 6, 6>, residual<max_pool2d<2>>>);
// A kernel larger than the padded input.
static_assert(!is_valid_network<input<1, 3, 3>, conv2d<4, 5, f32, 1, 0>>);
static_assert(is_valid_network<input<1, 3, 3>, conv2d<4, 5, f32, 1, 1>>);  // 3 + 2 = 5 fits
// The error can be anywhere in the list.
static_assert(!is_valid_network<input<3, 8, 8>, conv2d<4, 3, f32>, relu, max_pool2d<2>, relu, max_pool2d<2>,
                                max_pool2d<2>, max_pool2d<2>>);  // 8 -> 4 -> 2 -> 1 -> no window
static_assert(!is_valid_network<int, relu>);

// ---------------------------------------------------------------------------
// Parameter counts. 3,251,018 is the paper's figure for VGG4bit on
// CIFAR-10; with 100 classes the only change is the classifier, 90 more
// outputs of 512 weights and a bias each: 3,251,018 + 90·513. That is the
// count the paper's topology gives for CIFAR-100.

static_assert(vgg4bit<10, paper_4bit>::parameter_count == 3251018);
static_assert(vgg4bit<100, paper_4bit>::parameter_count == 3297188);
static_assert(vgg4bit<100, paper_4bit>::parameter_count == 3251018 + 90 * 513);
static_assert(vgg4bit<10, f32>::parameter_count == 3251018);  // the scheme changes no count
static_assert(simple_resnet4bit<10, paper_4bit>::parameter_count == 75530);
// FastVGG: the stem (3·9·32 weights, 32 biases, 64 batch-norm parameters),
// 32 → 64 and 64 → 64, 64 → 256, three of 256 → 256, and 256 → 10.
static_assert(fast_vgg<10, paper_4bit>::parameter_count ==
              (27 * 32 + 96) + (288 * 64 + 192) + (576 * 64 + 192) + (576 * 256 + 768) + 3 * (2304 * 256 + 768) +
                  (256 * 10 + 10));
static_assert(fast_vgg<10, paper_4bit>::parameter_count == 1979210);
// ResNet-8 as MLPerf Tiny counts it in Keras: 78,666 with the 480 running
// statistics of its 240 batch-norm channels (16 + 2·16 + 2·32 + 2·64).
static_assert(resnet8<10, f32>::parameter_count == 78666 - 2 * 240);
// ResNet-20: 3·9·16 + 6·(16·9·16) + (16·9·32 + 5·32·9·32 + 16·32) +
// (32·9·64 + 5·64·9·64 + 32·64) weights, 784 biases and 784 batch-norm
// channels of 2 parameters, and the classifier.
static_assert(resnet20<10, f32>::parameter_count == 270256 + 784 + 2 * 784 + 650);
static_assert(std::is_same_v<resnet20<10, f32>::output_shape, shape<10, 1, 1>>);
// MobileNetV1 at width 0.5: 818,250 weights and biases, and 5,472
// batch-norm channels of 2 parameters (16 after the stem, then each block's
// depthwise and pointwise channels).
static_assert(mobilenet_v1<10, f32>::parameter_count == 818250 + 2 * 5472);
static_assert(std::is_same_v<mobilenet_v1<10, f32>::output_shape, shape<10, 1, 1>>);
// DS-CNN: the 10x4 first layer (2,624), four blocks of a depthwise (640) and
// a pointwise (4,160) convolution, the classifier (780), and nine batch
// norms of 64 channels: the 23,756 the model zoos give.
static_assert(ds_cnn<12, f32>::parameter_count == 23756);
static_assert(std::is_same_v<std::remove_cvref_t<decltype(std::declval<ds_cnn<12, f32>&>().layer<0>())>::output_shape,
                             shape<64, 25, 5>>);

static_assert(conv2d<64, 3, paper_4bit>::bind<shape<3, 32, 32>>::parameter_count == 64 * 27 + 64);
static_assert(linear<10, f32>::bind<shape<512, 1, 1>>::parameter_count == 5130);
static_assert(batch_norm::bind<shape<64, 32, 32>>::parameter_count == 128);
static_assert(residual<conv2d<16, 3, f32>, batch_norm>::bind<shape<16, 8, 8>>::parameter_count == 16 * 144 + 16 + 32);
static_assert(relu::bind<shape<3, 4, 4>>::parameter_count == 0);
// A depthwise convolution: one K×K filter and a bias per channel; stride 2 halves the image.
static_assert(depthwise_conv2d<3, f32>::bind<shape<32, 16, 16>>::parameter_count == 32 * 9 + 32);
static_assert(std::is_same_v<depthwise_conv2d<3, f32, 2>::bind<shape<32, 16, 16>>::output_shape, shape<32, 8, 8>>);
static_assert(!is_valid_network<input<4, 1, 1>, flatten, depthwise_conv2d<3, f32>>);
// Average pooling: non-overlapping by default, overlapping at a smaller stride.
static_assert(std::is_same_v<avg_pool2d<2>::bind<shape<3, 7, 7>>::output_shape, shape<3, 3, 3>>);
static_assert(std::is_same_v<avg_pool2d<3, 2>::bind<shape<3, 7, 7>>::output_shape, shape<3, 3, 3>>);
static_assert(!is_valid_network<input<3, 2, 2>, avg_pool2d<3>>);

// ---------------------------------------------------------------------------
// Shapes

static_assert(std::is_same_v<vgg4bit<10, paper_4bit>::input_shape, shape<3, 32, 32>>);
static_assert(std::is_same_v<vgg4bit<10, paper_4bit>::output_shape, shape<10, 1, 1>>);
static_assert(std::is_same_v<vgg4bit<100, paper_4bit>::output_shape, shape<100, 1, 1>>);
static_assert(std::is_same_v<simple_resnet4bit<10, paper_4bit>::output_shape, shape<10, 1, 1>>);
static_assert(vgg4bit<10, paper_4bit>::size == 20);  // batch_norm_relu counts as one layer
// The 4x4 map of the last stage pooled to one value per channel.
static_assert(std::is_same_v<fast_vgg<10, paper_4bit>::output_shape, shape<10, 1, 1>>);
static_assert(fast_vgg<10, paper_4bit>::size == 20);
static_assert(simple_resnet4bit<10, paper_4bit>::size == 14);

static_assert(std::is_same_v<conv2d<8, 3, f32>::bind<shape<3, 32, 32>>::output_shape, shape<8, 32, 32>>);
static_assert(std::is_same_v<conv2d<8, 3, f32, 2>::bind<shape<3, 32, 32>>::output_shape, shape<8, 16, 16>>);
static_assert(std::is_same_v<conv2d<8, 3, f32, 1, 0>::bind<shape<3, 32, 32>>::output_shape, shape<8, 30, 30>>);
static_assert(std::is_same_v<conv2d<8, 1, f32>::bind<shape<3, 7, 5>>::output_shape, shape<8, 7, 5>>);
static_assert(std::is_same_v<conv2d<8, 5, f32, 2>::bind<shape<3, 7, 7>>::output_shape, shape<8, 4, 4>>);
static_assert(std::is_same_v<max_pool2d<2>::bind<shape<3, 8, 6>>::output_shape, shape<3, 4, 3>>);
static_assert(std::is_same_v<flatten::bind<shape<3, 4, 5>>::output_shape, shape<60, 1, 1>>);
static_assert(std::is_same_v<global_avg_pool::bind<shape<7, 4, 5>>::output_shape, shape<7, 1, 1>>);
static_assert(std::is_same_v<linear<9, f32>::bind<shape<60, 1, 1>>::output_shape, shape<9, 1, 1>>);
static_assert(std::is_same_v<sequential<input<3, 8, 8>, conv2d<4, 3, f32>, max_pool2d<2>, flatten>::output_shape,
                             shape<64, 1, 1>>);

// ---------------------------------------------------------------------------
// Concepts

static_assert(bound_layer<conv2d<4, 3, paper_4bit>::bind<shape<3, 8, 8>>>);
static_assert(bound_layer<batch_norm::bind<shape<3, 8, 8>>>);
static_assert(bound_layer<residual<relu>::bind<shape<3, 8, 8>>>);
static_assert(layer_spec_for<relu, shape<3, 8, 8>>);
static_assert(!layer_spec_for<int, shape<3, 8, 8>>);

}  // namespace

TEST_CASE("compile-time checks hold", "[compile_time]") {
  STATIC_REQUIRE(vgg4bit<10, paper_4bit>::parameter_count == 3251018);
  STATIC_REQUIRE(simple_resnet4bit<10, paper_4bit>::parameter_count == 75530);
}
