// Helpers of the sweep tests: scratch folders, running the dasnet command, writing specs.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace dasnet::sweep_testing {

inline std::string scratch_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("dasnet_" + name + "_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

struct Run {
  int code = -1;
  std::string out;
};

// Runs `dasnet ARGS` (shell words) in `dir`, stdout and stderr together.
inline Run dasnet(const std::string& args, const std::string& dir) {
  const std::string log = dir + "/command_output.txt";
  const std::string command =
      "cd \"" + dir + "\" && \"" + std::string(DASNET_BINARY) + "\" " + args + " >\"" + log + "\" 2>&1";
  int status = std::system(command.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_text(log)};
}

inline bool have_matplotlib() { return std::system("python3 -c 'import matplotlib' >/dev/null 2>&1") == 0; }

// Opens `page` in headless Chromium (tests/browser/check_page.py) and writes a screenshot
// beside it. Exit code 0: the page is fine; 1: blank, an image did not load, or a console error
// (the reasons are in `out`); 77: Chromium or websocket-client is missing.
inline Run open_in_browser(const std::string& page, int min_images) {
  const std::string log = page + ".browser.txt";
  const std::string command = "python3 \"" + std::string(DASNET_SOURCE_DIR) + "/tests/browser/check_page.py\" \"" +
                              page + "\" --screenshot \"" + page + ".png\" --min-images " +
                              std::to_string(min_images) + " >\"" + log + "\" 2>&1";
  int status = std::system(command.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_text(log)};
}

constexpr int kBrowserMissing = 77;

}  // namespace dasnet::sweep_testing
