// A child process (one trial's `dasnet train`) started with fork/exec: its own process group,
// stdout and stderr appended to a log file, killed by the kernel if the driver dies (so a
// `kill -9` of the driver never leaves an orphan trial writing into a directory that a resumed
// driver reuses).
#pragma once
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace dasnet {

struct ChildExit {
  bool exited = false;  // normal exit (else killed by a signal)
  int code = 0;         // exit status or signal number
  std::string describe() const;
};

class ChildProcess {
 public:
  // argv[0] is the program path; throws std::runtime_error naming the program if it cannot start.
  ChildProcess(const std::vector<std::string>& argv, const std::string& log_path);
  ~ChildProcess();  // kills a child still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  pid_t pid() const { return pid_; }
  std::optional<ChildExit> poll();  // non-blocking
  void kill_now();                  // SIGKILL to the group and reap

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

// Splits a launcher template such as "mpirun -np {ranks}" into words, {ranks} replaced.
std::vector<std::string> launcher_words(const std::string& launcher, int ranks);

}  // namespace dasnet
