// Questions the programs ask of the catalogue at run time: which variant a
// command line picks, why there is none, which are built, and the words of
// the help text — all read from catalogue.hpp, so that none of them is
// written twice.
#pragma once
#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/core.h>
#include <fmt/ranges.h>

#include "catalogue.hpp"

namespace nibble::tools {

using variants = variants_of<catalogue>;
inline constexpr std::size_t variant_count = list_size<variants>::value;

// Whether this build compiles variant V: every one, or with
// -DNIBBLE_CATALOGUE=main (NIBBLE_CATALOGUE_MAIN) only the main command's.
template <class V>
inline constexpr bool built =
#ifdef NIBBLE_CATALOGUE_MAIN
    V::matches(choice{main_choice.network, main_choice.scheme, main_choice.bits, main_choice.activations,
                      main_choice.bf16, V::classes});
#else
    true;
#endif

// The index of the variant a command line picks, if the catalogue has it.
inline std::optional<std::size_t> find_variant(const choice& c) {
  std::optional<std::size_t> found;
  for_each_variant<variants>([&]<std::size_t I, class V>() {
    if (!found && V::matches(c)) found = I;
  });
  return found;
}

inline bool variant_built(std::size_t index) {
  bool b = false;
  for_each_variant<variants>([&]<std::size_t I, class V>() {
    if (I == index) b = built<V>;
  });
  return b;
}

inline bool has_network(std::string_view network, std::size_t classes) {
  bool has = false;
  for_each_variant<variants>([&]<std::size_t, class V>() {
    has = has || (V::network::flag == network && V::classes == classes);
  });
  return has;
}

// "" if the catalogue has the choice and this build compiles it; else why
// not, and what there is instead.
inline std::string why_not_available(const choice& c) {
  if (const auto i = find_variant(c)) {
    if (variant_built(*i)) return "";
    return fmt::format("--model {} --scheme {} --bits {} --activations {}{} is in the catalogue but not in this "
                       "build, which was configured with -DNIBBLE_CATALOGUE=main (the main command's network only): "
                       "configure again with -DNIBBLE_CATALOGUE=full and rebuild",
                       c.network, c.scheme, c.bits, c.activations, c.bf16 ? " --arithmetic bf16" : "");
  }
  if (!has_network(c.network, c.classes))
    return fmt::format("--model {} is not built for {} classes (tools/catalogue.hpp)", c.network, c.classes);
  // The scheme choices the network has for these classes (both arithmetics are always built).
  std::vector<std::string> offered, with_scheme;
  for_each_variant<variants>([&]<std::size_t, class V>() {
    if (V::network::flag != c.network || V::classes != c.classes || V::bf16) return;
    using S = typename V::scheme;
    const std::string bits = fmt::format("--bits {} --activations {}", S::bits, S::activations);
    if (S::flag == c.scheme) with_scheme.push_back(bits);
    const std::string name(S::flag);
    if (std::find(offered.begin(), offered.end(), name) == offered.end()) offered.push_back(name);
  });
  if (with_scheme.empty())
    return fmt::format("--scheme {} is not built for --model {} ({} classes); it has --scheme {}", c.scheme,
                       c.network, c.classes, fmt::join(offered, ", "));
  return fmt::format("--scheme {} with --bits {} --activations {} is not built for --model {} ({} classes); it "
                     "takes {}",
                     c.scheme, c.bits, c.activations, c.network, c.classes, fmt::join(with_scheme, "; "));
}

// The networks in catalogue order, each once, with their words.
inline std::vector<std::pair<std::string, std::string>> networks() {
  std::vector<std::pair<std::string, std::string>> found;
  for_each_variant<variants>([&]<std::size_t, class V>() {
    const std::string name(V::network::flag);
    if (std::find_if(found.begin(), found.end(), [&](const auto& f) { return f.first == name; }) == found.end())
      found.emplace_back(name, std::string(V::network::label) + ", " + std::string(V::network::help));
  });
  return found;
}

inline std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const auto& [name, help] : networks()) names.push_back(name);
  return names;
}

// The schemes in catalogue order, each once.
inline std::vector<std::string> scheme_names() {
  std::vector<std::string> names;
  for_each_variant<variants>([&]<std::size_t, class V>() {
    const std::string name(V::scheme::flag);
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  });
  return names;
}

// For each network: what it is, its schemes grouped by the numbers of
// classes they are built for, and where it cannot go.
inline std::string model_help() {
  std::string help;
  for (const auto& [name, what] : networks()) {
    std::vector<std::pair<std::string, std::string>> schemes;  // (scheme, its classes "10/20/100")
    std::vector<std::string> limits;
    for_each_variant<variants>([&]<std::size_t, class V>() {
      if (V::network::flag != name || V::bf16) return;
      using S = typename V::scheme;
      const std::string scheme = S::activations == 32 ? fmt::format("{} W{}", S::flag, S::bits)
                                                      : fmt::format("{} W{}A{}", S::flag, S::bits, S::activations);
      auto at = std::find_if(schemes.begin(), schemes.end(), [&](const auto& s) { return s.first == scheme; });
      if (at == schemes.end()) at = schemes.insert(schemes.end(), {scheme, ""});
      at->second += (at->second.empty() ? "" : "/") + std::to_string(V::classes);
      const std::string limit(V::no_c_header);
      if (!limit.empty() && std::find(limits.begin(), limits.end(), limit) == limits.end()) limits.push_back(limit);
    });
    std::vector<std::string> groups;  // schemes with the same classes, in order
    for (std::size_t i = 0; i < schemes.size(); ++i) {
      bool seen = false;
      for (std::size_t j = 0; j < i; ++j) seen = seen || schemes[j].second == schemes[i].second;
      if (seen) continue;
      std::vector<std::string> same;
      for (const auto& s : schemes)
        if (s.second == schemes[i].second) same.push_back(s.first);
      groups.push_back(fmt::format("{} classes: {}", schemes[i].second, fmt::join(same, ", ")));
    }
    help += fmt::format("\n  {}: {}; {}{}", name, what, fmt::join(groups, "; "),
                        limits.empty() ? "" : fmt::format(" ({})", fmt::join(limits, "; ")));
  }
  return help;
}

inline std::string scheme_help() {
  std::string help;
  std::vector<std::string> seen;
  for_each_variant<variants>([&]<std::size_t, class V>() {
    using S = typename V::scheme;
    const std::string key = fmt::format("{}/{}/{}", S::flag, S::bits, S::activations);
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) return;
    seen.push_back(key);
    help += fmt::format("\n  {} --bits {} --activations {}: {}", S::flag, S::bits, S::activations, S::help);
  });
  return help;
}

}  // namespace nibble::tools
