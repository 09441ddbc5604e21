// A layer that pools u8 codes cannot take the network's float input: each
// layer must read the batch type the layer before it writes.
// expect: must read the batch type the layer before it writes
#include <nibble/deploy/code_max_pool2d.hpp>
#include <nibble/net/sequential.hpp>

using codes_first = nibble::sequential<nibble::input<3, 8, 8>, nibble::deploy::code_max_pool2d<2>>;
codes_first* net = nullptr;
void touch() { (void)sizeof(codes_first); }
