#pragma once
// A one-line progress bar for long loops: redrawn in place on a terminal,
// printed every tenth of the way otherwise (logs, CI). Besides the time
// left in its own loop it can show the time left in the whole run, when
// told how many loops like it follow.
#include <chrono>
#include <cstdio>
#include <string>

#include <fmt/core.h>
#include <unistd.h>

namespace nibble {

inline std::string format_duration(double seconds) {
  const long s = long(seconds + 0.5);
  return s >= 3600 ? fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
                   : fmt::format("{}:{:02}", s / 60, s % 60);
}

class progress_bar {
 public:
  progress_bar(std::string label, std::size_t total, bool enabled = true, std::FILE* out = stderr)
      : label_(std::move(label)), total_(total), enabled_(enabled), out_(out), tty_(isatty(fileno(out)) != 0),
        start_(std::chrono::steady_clock::now()) {}

  // `loops` more loops follow this one, each taking `seconds` (0: as long
  // as this one is projected to take).
  void set_run_remaining(std::size_t loops, double seconds) {
    loops_after_ = loops;
    seconds_per_loop_ = seconds;
  }

  double elapsed() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

  // done: steps finished; detail: text shown after the bar (loss, accuracy...).
  void update(std::size_t done, std::size_t images, const std::string& detail) {
    if (!enabled_ || total_ == 0) return;
    const double t = elapsed();
    const double rate = t > 0 ? double(images) / t : 0.0;
    const double left = done > 0 ? t * double(total_ - done) / double(done) : 0.0;
    std::string time_left = format_duration(left) + " left";
    if (loops_after_ > 0 && done > 0) {
      const double per_loop = seconds_per_loop_ > 0 ? seconds_per_loop_ : t * double(total_) / double(done);
      time_left += " (run: " + format_duration(left + double(loops_after_) * per_loop) + ")";
    }
    const std::size_t tenth = done * 10 / total_;
    if (!tty_ && tenth == last_tenth_ && done != total_) return;
    last_tenth_ = tenth;
    constexpr std::size_t width = 24;
    const std::size_t filled = done * width / total_;
    const std::string line = fmt::format("{} [{}{}] {}/{} {} {:.0f} img/s {}", label_, std::string(filled, '#'),
                                         std::string(width - filled, '.'), done, total_, detail, rate, time_left);
    if (tty_)
      fmt::print(out_, "\r{}\x1b[K{}", line, done == total_ ? "\n" : "");
    else
      fmt::print(out_, "{}\n", line);
    std::fflush(out_);
  }

 private:
  std::string label_;
  std::size_t total_;
  bool enabled_;
  std::FILE* out_;
  bool tty_;
  std::size_t last_tenth_ = std::size_t(-1);
  std::size_t loops_after_ = 0;
  double seconds_per_loop_ = 0;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace nibble
