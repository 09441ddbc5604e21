// One (classes, weight bits) group of the CIFAR trainers' network types,
// compiled once per group with NIBBLE_VARIANT_CLASSES and
// NIBBLE_VARIANT_BITS set (examples/CMakeLists.txt).
#include "cifar_main.hpp"

template int dispatch_bits<NIBBLE_VARIANT_CLASSES, NIBBLE_VARIANT_BITS>(const cifar_cli&,
                                                                        const nibble::data::dataset&,
                                                                        const nibble::data::dataset&);
