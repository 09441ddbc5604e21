// One shard of the catalogue: the programs of every variant i with
// i % NIBBLE_CATALOGUE_SHARDS == NIBBLE_SHARD (tools/CMakeLists.txt
// compiles this file once per shard).
#include "catalogue_lookup.hpp"
#include "cifar_training.hpp"
#include "model_commands.hpp"
#include "variant_programs.hpp"

namespace nibble::tools {

template <class V>
variant_programs programs_for() {
  variant_programs p{.label = V::network::label, .flags = &V::flags, .no_deploy = V::no_deploy,
                     .no_c_header = V::no_c_header};
  p.description = [] { return describe_network<typename V::trained>().text(); };
  p.train = &train_variant<V>;
  if constexpr (V::deploys) {
    p.export_model = &export_variant<V>;
    p.holds = &holds_variant<V>;
    p.evaluate = &evaluate_variant<V>;
    p.classify = &classify_variant<V>;
  }
  return p;
}

template <>
variant_programs programs_in_shard<NIBBLE_SHARD>(std::size_t index) {
  variant_programs p;
  for_each_variant<variants>([&]<std::size_t I, class V>() {
    if constexpr (I % shard_count == NIBBLE_SHARD && built<V>)
      if (I == index) p = programs_for<V>();
  });
  return p;
}

}  // namespace nibble::tools
