// How the ranks of `dasnet infer` under mpirun/srun tell rank 0 how far they are: every few
// seconds each other rank sends {"bytes": read so far, "finished": bool, "failures": [...]};
// rank 0 shows the sum and aborts the job when a rank falls silent past the timeout (it died or
// hangs). At the end rank 0 waits for every final report and then releases the ranks, so that no
// rank's watchdog times a collective while another is still busy with a large file. With one
// rank every call does nothing.
#pragma once
#include <chrono>
#include <string>
#include <vector>

#include "dist/communicator.h"

namespace dasnet {

class RankProgress {
 public:
  RankProgress(Communicator& comm, double timeout_s);
  // Worker ranks: sends this rank's bytes read (at most every 2 s). Rank 0: takes the reports
  // that have arrived, and aborts the job if a rank is silent past the timeout.
  void update(double bytes_read);
  // Bytes read so far by every rank, this one's included (rank 0's view; others see their own).
  double all_ranks_bytes(double own_bytes_read) const;
  // After this rank's last file: the final report and the wait for every rank. Returns, on
  // rank 0, the failures ("FILE: message") the other ranks reported; elsewhere nothing.
  std::vector<std::string> finish(double bytes_read, const std::vector<std::string>& failures);

 private:
  using Clock = std::chrono::steady_clock;
  void send_report(double bytes_read, bool finished, const std::vector<std::string>& failures);
  void drain(double wait_s);
  bool all_finished() const;

  Communicator& comm_;
  double timeout_s_;
  Clock::time_point last_sent_;
  std::vector<double> bytes_;
  std::vector<Clock::time_point> last_heard_;
  std::vector<bool> finished_;
  std::vector<std::string> failures_;
};

}  // namespace dasnet
