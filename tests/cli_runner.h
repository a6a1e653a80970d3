// Runs the built dasnet command (DASNET_BINARY) as users run it, capturing exit code, standard
// output and standard error through files in a scratch folder.
#pragma once
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

namespace dasnet::testing {

struct CommandResult {
  int exit_code = -1;
  std::string out, err;
};

// `args` must already be shell-quoted. timeout_s > 0: a command still running then is killed and
// exits 124 (for tests of what could hang).
inline CommandResult run_dasnet(const std::string& args, const std::string& scratch, int timeout_s = 0) {
  const std::string out_file = scratch + "/stdout.txt", err_file = scratch + "/stderr.txt";
  const std::string limit = timeout_s > 0 ? "timeout -k 5 " + std::to_string(timeout_s) + " " : "";
  const std::string command =
      limit + "\"" + DASNET_BINARY + "\" " + args + " >\"" + out_file + "\" 2>\"" + err_file + "\"";
  const int status = std::system(command.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  auto slurp = [](const std::string& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  r.out = slurp(out_file);
  r.err = slurp(err_file);
  return r;
}

}  // namespace dasnet::testing
