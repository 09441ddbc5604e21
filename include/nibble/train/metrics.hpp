#pragma once
// Per-epoch figures; the metrics file that shows them (CSV for a `.csv`
// path, JSON lines for `.jsonl` or `.json`); and their encoding in a
// checkpoint, which holds a run's whole history.
//
// The checkpoint is the record of a run and the metrics file a view of it:
// the trainer rewrites the file, atomically, from the history after each
// checkpoint, so the file never lists an epoch the checkpoint lacks and
// never holds half a row.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "nibble/io/byte_order.hpp"
#include "nibble/io/files.hpp"

namespace nibble {

struct epoch_metrics {
  std::size_t epoch = 0;  // 1-based
  double learning_rate = 0;
  double train_loss = 0, train_accuracy = 0;
  double test_loss = 0, test_accuracy = 0;
  double seconds = 0, train_images_per_second = 0, eval_images_per_second = 0;
  std::vector<std::size_t> weight_levels;  // distinct quantized values per weight layer
  std::size_t fp32_bytes = 0, packed_bytes = 0;
  // The weight average's test figures, in runs that keep one.
  bool averaged = false;
  double average_test_loss = 0, average_test_accuracy = 0;
};

namespace detail {
inline bool any_averaged(const std::vector<epoch_metrics>& history) {
  return std::any_of(history.begin(), history.end(), [](const epoch_metrics& m) { return m.averaged; });
}
}  // namespace detail

enum class metrics_format { csv, json_lines };

// The format a metrics path asks for by its extension.
inline metrics_format metrics_format_of(const std::filesystem::path& file) {
  const auto ext = file.extension().string();
  if (ext == ".csv") return metrics_format::csv;
  if (ext == ".jsonl" || ext == ".json") return metrics_format::json_lines;
  throw std::invalid_argument("metrics file " + file.string() + ": use a .csv, .jsonl or .json extension");
}

namespace detail {
// JSON has no NaN or infinity: such a value is written as null.
inline std::string json_number(double v, int decimals) {
  if (!std::isfinite(v)) return "null";
  return fmt::format("{:.{}f}", v, decimals);
}
}  // namespace detail

inline std::string format_metrics(const std::vector<epoch_metrics>& history, metrics_format format) {
  std::string out;
  if (format == metrics_format::csv) {
    out = "epoch,learning_rate,train_loss,train_accuracy,test_loss,test_accuracy,seconds,"
          "train_images_per_second,eval_images_per_second,fp32_bytes,packed_bytes,weight_levels";
    // Runs that average their weights have two more columns.
    const bool averaged = detail::any_averaged(history);
    out += averaged ? ",average_test_loss,average_test_accuracy\n" : "\n";
    for (const auto& m : history) {
      out += fmt::format("{},{:.6g},{:.6f},{:.4f},{:.6f},{:.4f},{:.2f},{:.1f},{:.1f},{},{},{}", m.epoch,
                         m.learning_rate, m.train_loss, m.train_accuracy, m.test_loss, m.test_accuracy, m.seconds,
                         m.train_images_per_second, m.eval_images_per_second, m.fp32_bytes, m.packed_bytes,
                         fmt::join(m.weight_levels, " "));
      if (averaged)
        out += m.averaged ? fmt::format(",{:.6f},{:.4f}", m.average_test_loss, m.average_test_accuracy) : ",,";
      out += "\n";
    }
    return out;
  }
  using detail::json_number;
  for (const auto& m : history)
    out += fmt::format(
        "{{\"epoch\":{},\"learning_rate\":{},\"train_loss\":{},\"train_accuracy\":{},\"test_loss\":{},"
        "\"test_accuracy\":{},\"seconds\":{},\"train_images_per_second\":{},\"eval_images_per_second\":{},"
        "\"fp32_bytes\":{},\"packed_bytes\":{},\"weight_levels\":[{}]{}}}\n",
        m.epoch, std::isfinite(m.learning_rate) ? fmt::format("{:.6g}", m.learning_rate) : "null",
        json_number(m.train_loss, 6), json_number(m.train_accuracy, 4), json_number(m.test_loss, 6),
        json_number(m.test_accuracy, 4), json_number(m.seconds, 2), json_number(m.train_images_per_second, 1),
        json_number(m.eval_images_per_second, 1), m.fp32_bytes, m.packed_bytes, fmt::join(m.weight_levels, ","),
        m.averaged ? fmt::format(",\"average_test_loss\":{},\"average_test_accuracy\":{}",
                                 json_number(m.average_test_loss, 6), json_number(m.average_test_accuracy, 4))
                   : "");
  return out;
}

// Replaces `file` with the whole history, atomically.
inline void write_metrics_file(const std::filesystem::path& file, const std::vector<epoch_metrics>& history) {
  const std::string text = format_metrics(history, metrics_format_of(file));
  io::write_file_atomically(file, std::as_bytes(std::span(text.data(), text.size())), "metrics file");
}

// The history in a checkpoint. The weight average's figures follow the
// epochs as a block of their own, present only in runs that keep one, so
// that histories written before it existed still read.
inline std::vector<std::byte> encode_history(const std::vector<epoch_metrics>& history) {
  io::byte_writer w;
  w.u64(history.size());
  for (const auto& m : history) {
    w.u64(m.epoch);
    for (double v : {m.learning_rate, m.train_loss, m.train_accuracy, m.test_loss, m.test_accuracy, m.seconds,
                     m.train_images_per_second, m.eval_images_per_second})
      w.f64(v);
    w.u64(m.weight_levels.size());
    for (std::size_t l : m.weight_levels) w.u64(l);
    w.u64(m.fp32_bytes);
    w.u64(m.packed_bytes);
  }
  if (detail::any_averaged(history))
    for (const auto& m : history) {
      w.u8(m.averaged ? 1 : 0);
      w.f64(m.average_test_loss);
      w.f64(m.average_test_accuracy);
    }
  return w.take();
}

inline std::vector<epoch_metrics> decode_history(std::span<const std::byte> bytes, const std::string& what) {
  io::byte_reader r(bytes, what);
  std::vector<epoch_metrics> history(std::size_t(r.count("number of epochs", bytes.size() / 80)));
  for (auto& m : history) {
    m.epoch = std::size_t(r.u64("epoch"));
    for (double* v : {&m.learning_rate, &m.train_loss, &m.train_accuracy, &m.test_loss, &m.test_accuracy, &m.seconds,
                      &m.train_images_per_second, &m.eval_images_per_second})
      *v = r.f64("figure");
    m.weight_levels.resize(std::size_t(r.count("number of weight layers", r.remaining() / 8)));
    for (auto& l : m.weight_levels) l = std::size_t(r.u64("weight levels"));
    m.fp32_bytes = std::size_t(r.u64("fp32 bytes"));
    m.packed_bytes = std::size_t(r.u64("packed bytes"));
  }
  if (r.remaining() > 0)
    for (auto& m : history) {
      const std::uint8_t flag = r.u8("weight average flag");
      if (flag > 1) r.fail("its weight average flag is " + std::to_string(flag) + ", not 0 or 1");
      m.averaged = flag == 1;
      m.average_test_loss = r.f64("weight average test loss");
      m.average_test_accuracy = r.f64("weight average test accuracy");
    }
  r.expect_end();
  return history;
}

}  // namespace nibble
