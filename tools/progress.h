// A one-line progress indicator on stderr for long commands (synth, label, dataset build).
// Redraws at most twice a second; silent when quiet.
#pragma once
#include <chrono>
#include <cstdio>
#include <string>

namespace dasnet {

class ProgressLine {
 public:
  ProgressLine(std::string label, bool quiet) : label_(std::move(label)), quiet_(quiet) {}
  ~ProgressLine() { finish(); }
  void update(double done, double total, const std::string& unit = "") {
    if (quiet_) return;
    auto now = std::chrono::steady_clock::now();
    if (done < total && now - last_ < std::chrono::milliseconds(500)) return;
    last_ = now;
    double pct = total > 0 ? 100.0 * done / total : 100.0;
    double elapsed = std::chrono::duration<double>(now - start_).count();
    std::fprintf(stderr, "\r%s: %5.1f%% (%.0f / %.0f%s%s) %.0f s  ", label_.c_str(), pct, done, total,
                 unit.empty() ? "" : " ", unit.c_str(), elapsed);
    std::fflush(stderr);
    drawn_ = true;
  }
  void finish() {
    if (drawn_ && !quiet_) std::fprintf(stderr, "\n");
    drawn_ = false;
  }

 private:
  std::string label_;
  bool quiet_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), last_{};
};

}  // namespace dasnet
