#include "infer/rank_progress.h"

#include <nlohmann/json.hpp>

namespace dasnet {

namespace {
// Point-to-point tags of the protocol (collectives never see them).
constexpr int kReportTag = 7201;   // rank -> rank 0: a progress report (JSON)
constexpr int kReleaseTag = 7202;  // rank 0 -> rank: every rank has finished, go on to the totals
constexpr double kReportEverySeconds = 2;

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}
}  // namespace

RankProgress::RankProgress(Communicator& comm, double timeout_s)
    : comm_(comm), timeout_s_(timeout_s), last_sent_(Clock::now() - std::chrono::hours(1)),
      bytes_(size_t(comm.size()), 0), last_heard_(size_t(comm.size()), Clock::now()),
      finished_(size_t(comm.size()), false) {}

void RankProgress::update(double bytes_read) {
  if (comm_.size() == 1) return;
  if (comm_.rank() == 0) return drain(0);
  if (seconds_since(last_sent_) < kReportEverySeconds) return;
  send_report(bytes_read, false, {});
}

double RankProgress::all_ranks_bytes(double own_bytes_read) const {
  double sum = own_bytes_read;
  if (comm_.rank() == 0)
    for (size_t r = 1; r < bytes_.size(); ++r) sum += bytes_[r];
  return sum;
}

std::vector<std::string> RankProgress::finish(double bytes_read, const std::vector<std::string>& failures) {
  if (comm_.size() == 1) return {};
  if (comm_.rank() == 0) {
    while (!all_finished()) drain(0.5);
    for (int r = 1; r < comm_.size(); ++r) comm_.send_bytes("go", r, kReleaseTag);
    return failures_;
  }
  send_report(bytes_read, true, failures);
  std::string go;
  while (!comm_.receive_bytes(&go, nullptr, 0, kReleaseTag, 3600)) {
  }
  return {};
}

void RankProgress::send_report(double bytes_read, bool finished, const std::vector<std::string>& failures) {
  last_sent_ = Clock::now();
  nlohmann::json j = {{"bytes", bytes_read}, {"finished", finished}, {"failures", failures}};
  comm_.send_bytes(j.dump(), 0, kReportTag);
}

void RankProgress::drain(double wait_s) {
  std::string message;
  int source = 0;
  while (comm_.receive_bytes(&message, &source, Communicator::kAnySource, kReportTag, wait_s)) {
    auto j = nlohmann::json::parse(message);
    bytes_[size_t(source)] = j.at("bytes");
    last_heard_[size_t(source)] = Clock::now();
    if (j.at("finished").get<bool>()) finished_[size_t(source)] = true;
    for (const auto& f : j.at("failures")) failures_.push_back(f.get<std::string>());
    wait_s = 0;
  }
  for (int r = 1; r < comm_.size(); ++r)
    if (!finished_[size_t(r)] && seconds_since(last_heard_[size_t(r)]) > timeout_s_)
      comm_.abort("infer: rank " + std::to_string(r) + " sent nothing for " + std::to_string(int(timeout_s_)) +
                  " s (--dist-timeout): it died or hangs");
}

bool RankProgress::all_finished() const {
  for (int r = 1; r < comm_.size(); ++r)
    if (!finished_[size_t(r)]) return false;
  return true;
}

}  // namespace dasnet
