// Checks of command-line values whose messages state the rule and the
// value given, shared by the example programs.
#pragma once
#include <cmath>
#include <exception>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

// A number check whose message states the rule and the value given, e.g.
// "--lr: must be a finite number above 0, got nan".
inline CLI::Validator finite_number(double lowest, bool lowest_allowed, double highest = 1e30) {
  const std::string rule = fmt::format("must be a finite number {} {}{}", lowest_allowed ? "of at least" : "above",
                                       lowest, highest < 1e30 ? fmt::format(" and at most {}", highest) : "");
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        double v = 0;
        std::size_t used = 0;
        try {
          v = std::stod(text, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        const bool ok = used == text.size() && std::isfinite(v) && (lowest_allowed ? v >= lowest : v > lowest) &&
                        v <= highest;
        return ok ? std::string() : rule + ", got " + text;
      },
      "NUMBER");
}
// Whole numbers from lowest to highest, e.g. "--epochs: must be a whole number from 1 to 100000, got 0".
inline CLI::Validator count_from(long long lowest, long long highest) {
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        long long v = 0;
        std::size_t used = 0;
        try {
          v = std::stoll(text, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        return used == text.size() && v >= lowest && v <= highest
                   ? std::string()
                   : fmt::format("must be a whole number from {} to {}, got {}", lowest, highest, text);
      },
      "COUNT");
}
