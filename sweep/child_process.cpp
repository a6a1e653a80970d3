#include "sweep/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>
#include <stdexcept>

namespace dasnet {

std::string ChildExit::describe() const {
  if (exited) return "exit code " + std::to_string(code);
  return std::string("killed by signal ") + std::to_string(code) + " (" + strsignal(code) + ")";
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const std::string& log_path) {
  if (argv.empty()) throw std::runtime_error("child process: empty command");
  int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) throw std::runtime_error(log_path + ": cannot open the trial log: " + std::strerror(errno));
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ < 0) {
    close(log);
    throw std::runtime_error("cannot fork for " + argv[0] + ": " + std::strerror(errno));
  }
  if (pid_ == 0) {
    // Child: only async-signal-safe calls until exec.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the driver died before prctl took effect
    dup2(log, STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
    int null_in = open("/dev/null", O_RDONLY);
    if (null_in >= 0) dup2(null_in, STDIN_FILENO);
    execvp(args[0], args.data());
    const char* msg = "dasnet sweep: cannot execute the trial command\n";
    ssize_t ignored = write(STDERR_FILENO, msg, std::strlen(msg));
    (void)ignored;
    _exit(127);
  }
  setpgid(pid_, pid_);  // also from the parent: no race with kill_now
  close(log);
}

ChildProcess::~ChildProcess() {
  if (!reaped_) kill_now();
}

std::optional<ChildExit> ChildProcess::poll() {
  if (reaped_) return std::nullopt;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == 0) return std::nullopt;
  reaped_ = true;
  ChildExit e;
  if (r < 0) {
    e.exited = true;
    e.code = 127;
  } else if (WIFEXITED(status)) {
    e.exited = true;
    e.code = WEXITSTATUS(status);
  } else {
    e.code = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  }
  return e;
}

void ChildProcess::kill_now() {
  if (reaped_ || pid_ <= 0) return;
  kill(-pid_, SIGKILL);  // the whole group: mpirun and its ranks too
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  reaped_ = true;
}

std::vector<std::string> launcher_words(const std::string& launcher, int ranks) {
  std::vector<std::string> words;
  std::istringstream in(launcher);
  std::string w;
  while (in >> w) {
    for (size_t at; (at = w.find("{ranks}")) != std::string::npos;) w.replace(at, 7, std::to_string(ranks));
    words.push_back(w);
  }
  return words;
}

}  // namespace dasnet
