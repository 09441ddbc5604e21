// One named scheme of train_cifar10's --scheme (VGG4bit, CIFAR-10), compiled
// once per scheme with NIBBLE_SCHEME_INDEX set (examples/CMakeLists.txt).
#include "cifar_main.hpp"

template int run_named_scheme<NIBBLE_SCHEME_INDEX>(const cifar_cli&, const nibble::data::dataset&,
                                                   const nibble::data::dataset&);
