// A layer that pools u8 codes cannot take the floats a relu writes: each
// layer must read the batch type the layer before it writes.
// expect: must read the batch type the layer before it writes
#include <nibble/deploy/code_max_pool2d.hpp>
#include <nibble/layers/relu.hpp>
#include <nibble/net/sequential.hpp>

using floats_into_codes = nibble::sequential<nibble::input<3, 8, 8>, nibble::relu, nibble::deploy::code_max_pool2d<2>>;
floats_into_codes* net = nullptr;
void touch() { (void)sizeof(floats_into_codes); }
