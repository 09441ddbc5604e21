#pragma once
// Per-epoch figures, and a file writer for them: CSV for a `.csv` path,
// JSON lines for `.jsonl` or `.json`.
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace nibble {

struct epoch_metrics {
  std::size_t epoch = 0;  // 1-based
  double learning_rate = 0;
  double train_loss = 0, train_accuracy = 0;
  double test_loss = 0, test_accuracy = 0;
  double seconds = 0, train_images_per_second = 0, eval_images_per_second = 0;
  std::vector<std::size_t> weight_levels;  // distinct quantized values per weight layer
  std::size_t fp32_bytes = 0, packed_bytes = 0;
};

class metrics_writer {
 public:
  metrics_writer() = default;
  explicit metrics_writer(const std::filesystem::path& file, bool append = false) {
    const auto ext = file.extension().string();
    if (ext == ".csv")
      csv_ = true;
    else if (ext != ".jsonl" && ext != ".json")
      throw std::invalid_argument("metrics file " + file.string() + ": use a .csv, .jsonl or .json extension");
    if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path());
    const bool fresh = !append || !std::filesystem::exists(file) || std::filesystem::file_size(file) == 0;
    out_.open(file, append ? std::ios::app : std::ios::trunc);
    if (!out_) throw std::runtime_error("cannot write metrics file " + file.string());
    if (csv_ && fresh)
      out_ << "epoch,learning_rate,train_loss,train_accuracy,test_loss,test_accuracy,seconds,"
              "train_images_per_second,eval_images_per_second,fp32_bytes,packed_bytes,weight_levels\n";
  }

  void write(const epoch_metrics& m) {
    if (!out_.is_open()) return;
    if (csv_)
      out_ << fmt::format("{},{:.6g},{:.6f},{:.4f},{:.6f},{:.4f},{:.2f},{:.1f},{:.1f},{},{},{}\n", m.epoch,
                          m.learning_rate, m.train_loss, m.train_accuracy, m.test_loss, m.test_accuracy, m.seconds,
                          m.train_images_per_second, m.eval_images_per_second, m.fp32_bytes, m.packed_bytes,
                          fmt::join(m.weight_levels, " "));
    else
      out_ << fmt::format(
          "{{\"epoch\":{},\"learning_rate\":{:.6g},\"train_loss\":{:.6f},\"train_accuracy\":{:.4f},"
          "\"test_loss\":{:.6f},\"test_accuracy\":{:.4f},\"seconds\":{:.2f},\"train_images_per_second\":{:.1f},"
          "\"eval_images_per_second\":{:.1f},\"fp32_bytes\":{},\"packed_bytes\":{},\"weight_levels\":[{}]}}\n",
          m.epoch, m.learning_rate, m.train_loss, m.train_accuracy, m.test_loss, m.test_accuracy, m.seconds,
          m.train_images_per_second, m.eval_images_per_second, m.fp32_bytes, m.packed_bytes,
          fmt::join(m.weight_levels, ","));
    out_.flush();
  }

 private:
  std::ofstream out_;
  bool csv_ = false;
};

}  // namespace nibble
