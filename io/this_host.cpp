#include "io/this_host.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>

namespace dasnet {

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "unknown";
  return name;
}

bool process_alive(int64_t pid) {
  if (pid <= 0) return false;
  return kill(pid_t(pid), 0) == 0 || errno == EPERM;
}

}  // namespace dasnet
