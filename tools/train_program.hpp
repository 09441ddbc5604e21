// The part train_cifar10 and train_cifar100 share after the command line:
// the chosen variant's compiled training, found in the catalogue.
#pragma once
#include <stdexcept>

#include <nibble/data/cifar.hpp>

#include "catalogue_lookup.hpp"
#include "cifar_cli.hpp"
#include "variant_programs.hpp"

// The command line was checked against the catalogue (cifar_cli.hpp), so
// the variant exists and is built.
inline int train_chosen_variant(const cifar_cli& c, const nibble::data::dataset& train_set,
                                const nibble::data::dataset& test_set) {
  const auto index = nibble::tools::find_variant(c.to_choice());
  const auto programs = index ? nibble::tools::programs_of(*index) : nibble::tools::variant_programs{};
  if (!programs.train) throw std::logic_error("the checked command line picked no built network");
  return programs.train(c, train_set, test_set);
}
