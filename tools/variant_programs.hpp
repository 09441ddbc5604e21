// What the programs can do with one variant of the catalogue, as plain
// function pointers, so that a program chooses a variant at run time and
// then runs code compiled for its type alone.
//
// The variants are compiled in NIBBLE_CATALOGUE_SHARDS units (variant i in
// shard i % NIBBLE_CATALOGUE_SHARDS; tools/catalogue_shard.cpp and
// tools/CMakeLists.txt), so that a build compiles them in parallel and
// adding one recompiles one unit. A variant this build does not compile
// (-DNIBBLE_CATALOGUE=main) has no programs: every pointer is null.
#pragma once
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nibble/data/dataset.hpp>
#include <nibble/io/checkpoint.hpp>
#include <nibble/io/model_file.hpp>

struct cifar_cli;

namespace nibble::tools {

#ifndef NIBBLE_CATALOGUE_SHARDS
#error "NIBBLE_CATALOGUE_SHARDS is set by tools/CMakeLists.txt"
#endif
inline constexpr std::size_t shard_count = NIBBLE_CATALOGUE_SHARDS;

struct variant_programs {
  std::string_view label;        // "VGG4bit"
  std::string (*flags)() = nullptr;  // the command-line flags that pick it
  std::string_view no_deploy, no_c_header;  // why it cannot go there ("" if it can)
  // The trained network in words, as checkpoints record it.
  std::string (*description)() = nullptr;
  // train_cifar10 and train_cifar100.
  int (*train)(const cifar_cli&, const data::dataset& train_set, const data::dataset& test_set) = nullptr;
  // cifar_model (null where the variant does not deploy).
  void (*export_model)(const checkpoint&, const std::filesystem::path& checkpoint_file,
                       const std::filesystem::path& output, const std::filesystem::path& c_header) = nullptr;
  bool (*holds)(const model_file&) = nullptr;  // whether the file holds its deployed network
  void (*evaluate)(const model_file&, const std::filesystem::path& model_path, const checkpoint* trained, const std::string& data_dir,
                   std::size_t batch_size) = nullptr;
  void (*classify)(const model_file&, const std::vector<std::filesystem::path>& images) = nullptr;
};

// The programs of variant `index` if it is in shard Shard (one definition
// per shard, in tools/catalogue_shard.cpp).
template <std::size_t Shard>
variant_programs programs_in_shard(std::size_t index);
#define NIBBLE_DECLARE_SHARD(k) \
  template <>                   \
  variant_programs programs_in_shard<k>(std::size_t index);
NIBBLE_DECLARE_SHARD(0)
NIBBLE_DECLARE_SHARD(1)
NIBBLE_DECLARE_SHARD(2)
NIBBLE_DECLARE_SHARD(3)
NIBBLE_DECLARE_SHARD(4)
NIBBLE_DECLARE_SHARD(5)
NIBBLE_DECLARE_SHARD(6)
NIBBLE_DECLARE_SHARD(7)
#undef NIBBLE_DECLARE_SHARD
static_assert(shard_count >= 1 && shard_count <= 8, "declare more shards above");

inline variant_programs programs_of(std::size_t index) {
  variant_programs p;
  [&]<std::size_t... K>(std::index_sequence<K...>) {
    ((index % shard_count == K ? (void)(p = programs_in_shard<K>(index)) : void()), ...);
  }(std::make_index_sequence<shard_count>{});
  return p;
}

}  // namespace nibble::tools
