// The catalogue: every network the CIFAR programs can train, export,
// evaluate and classify, in one place. A network or a scheme is one line
// below; the trainers' --model/--scheme/--bits/--activations choices, their
// help and refusals, cifar_model's lookup and its "unknown network" message,
// and the compiled units (tools/CMakeLists.txt) all come from this list.
//
// A network line: its --model name, its label and help, the template, and
// the schemes it is built with for each number of classes. A scheme line: its --scheme
// name with the --bits and --activations that pick it, and the type. Every
// (network, classes, scheme) is built in fp32 and bf16 arithmetic
// (--arithmetic). Where a network or scheme cannot leave training yet, its
// line says why (the trainer prints it at start; cifar_model refuses with it).
#pragma once
#include <nibble/net/fast_vgg.hpp>
#include <nibble/net/mobilenet_v1.hpp>
#include <nibble/net/resnet20.hpp>
#include <nibble/net/resnet8.hpp>
#include <nibble/net/simple_resnet4bit.hpp>
#include <nibble/net/vgg4bit.hpp>
#include <nibble/net/whitened_vgg.hpp>
#include <nibble/quant/presets.hpp>

#include "catalogue_types.hpp"

namespace nibble::tools {

// --scheme paper picks the paper's quantizer at --bits with --activations.
using paper_schemes = list<
    scheme_choice<"paper", 4, 32, paper_4bit, "the paper's: 15 levels, tanh clip, per-tensor scale, STE">,
    scheme_choice<"paper", 8, 32, int8_scheme, "the paper's at 8 bits">,
    scheme_choice<"paper", 32, 32, float32_scheme, "float weights (the baseline)", "",
                  "float weights have no C header">>;
using integer_schemes = list<  // quantized inputs too: integer inference
    scheme_choice<"paper", 4, 8, w4a8, "W4A8: 8-bit input codes by a moving range">,
    scheme_choice<"paper", 4, 4, w4a4, "W4A4">,
    scheme_choice<"paper", 8, 8, w8a8, "W8A8">>;
using other_4bit_schemes = list<
    scheme_choice<"stochastic", 4, 32, stochastic_w4, "stochastic rounding of the paper's weights">,
    scheme_choice<"percentile", 4, 32, percentile_w4, "scale from the 99.9th percentile of |W|">,
    scheme_choice<"lsq", 4, 32, lsq_w4, "learned step sizes (LSQ)">,
    scheme_choice<"lsq", 4, 4, lsq_w4a4, "learned step sizes (LSQ) for weights and inputs">,
    scheme_choice<"pot", 4, 32, pot_w4, "power-of-two levels through an annealed soft staircase",
                  "power-of-two weights have no deployed form yet">,
    scheme_choice<"pot", 4, 4, pot_w4a4, "power-of-two weights and inputs",
                  "power-of-two weights and activations have no deployed form yet">>;

using catalogue = list<
    network_choice<"vgg", "VGG4bit", "the paper's network", vgg4bit,
                   list<built_for<classes<10, 20, 100>, paper_schemes>,
                        built_for<classes<10>, integer_schemes, other_4bit_schemes>>>,
    network_choice<"resnet", "SimpleResNet4bit", "the paper's residual network", simple_resnet4bit,
                   list<built_for<classes<10, 20, 100>, paper_schemes>, built_for<classes<10>, integer_schemes>>>,
    network_choice<"resnet20", "ResNet-20", "He et al.'s CIFAR ResNet, projection shortcuts", resnet20,
                   list<built_for<classes<10>, paper_schemes, integer_schemes>>>,
    network_choice<"resnet8", "ResNet-8", "MLPerf Tiny's image-classification network", resnet8,
                   list<built_for<classes<10>, paper_schemes, integer_schemes>>>,
    network_choice<"mobilenet", "MobileNetV1-0.5", "depthwise-separable blocks at width 0.5, for 32x32 images",
                   mobilenet_v1, list<built_for<classes<10>, paper_schemes, integer_schemes>>>,
    network_choice<"fast-vgg", "FastVGG", "a VGG shaped for short runs", fast_vgg,
                   list<built_for<classes<10>, paper_schemes>>>,
    network_choice<"whitened-vgg", "WhitenedVGG", "airbench's network: a fixed patch-whitening first layer, GELU",
                   whitened_vgg, list<built_for<classes<10>, paper_schemes>>,
                   "WhitenedVGG has no deployed form yet (its fixed patch-whitening layer)">>;

// What the README's main command runs (-DNIBBLE_CATALOGUE=main builds these alone).
inline constexpr choice main_choice{.network = "vgg", .scheme = "paper", .bits = 4, .activations = 32, .bf16 = false};

}  // namespace nibble::tools
