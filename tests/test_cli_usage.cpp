// How the dasnet command answers wrong flags and unusable inputs, run as users run it: exit 2 and
// a message naming the flag for usage errors, exit 1 naming the file for bad files; never a crash
// or a hang.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <stdexcept>
#include <string>

#include "io/input_path.h"
#include "tests/cli_runner.h"
#include "tests/das_fixtures.h"

namespace dasnet {
namespace {

namespace fs = std::filesystem;

using testing::CommandResult;
using testing::run_dasnet;

class CliUsage : public ::testing::Test {
 protected:
  void SetUp() override { scratch_ = fixtures::make_temp_dir("cli-usage"); }
  void TearDown() override { fs::remove_all(scratch_); }
  CommandResult run(const std::string& args) { return run_dasnet(args, scratch_); }
  // Exit 2 and a message that names `names` (a flag or a value).
  void expect_usage_error(const std::string& args, const std::string& names) {
    const CommandResult r = run(args);
    EXPECT_EQ(r.exit_code, 2) << "dasnet " << args << "\n" << r.err;
    EXPECT_NE(r.err.find(names), std::string::npos) << "dasnet " << args << "\n" << r.err;
  }
  std::string scratch_;
};

// CLI11 ends a failed parse with its own codes (104-114); the README promises 2.
TEST_F(CliUsage, ParseErrorsExitTwo) {
  expect_usage_error("train --depth abc", "--depth");
  expect_usage_error("train --epochs 1.5", "--epochs");
  expect_usage_error("train --no-such-flag", "--no-such-flag");
  expect_usage_error("train --depth 2 --depth 8", "--depth");
  expect_usage_error("", "command");
  expect_usage_error("inspect", "files");
  expect_usage_error("sweep", "subcommand");
  expect_usage_error("no-such-command", "no-such-command");
  EXPECT_EQ(run("--version").exit_code, 0);
  EXPECT_EQ(run("train --help").exit_code, 0);
}

// Flags of a training small enough for a test (under a second on one core).
const char* kTinyTraining =
    "train --depth 2 --synthetic-per-class 8 --image-height 16 --image-width 16 --epochs 1 --no-progress";

// libgomp crashed (SIGSEGV) when asked for 100000 threads: they are capped to the cores.
TEST_F(CliUsage, ThreadsAreCappedToTheCores) {
  const CommandResult r = run(std::string(kTinyTraining) + " --threads 100000");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("--threads 100000 is more than the"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("100000 threads"), std::string::npos) << r.out;
  expect_usage_error(std::string(kTinyTraining) + " --threads -2", "--threads");
  expect_usage_error("sweep run spec.toml --ledger l.db --threads -2", "--threads");
}

// Opening a FIFO blocked forever (inspect, train --data, eval --checkpoint...); a directory was
// "an empty file". Both are now refused before anything opens them, naming the path (exit 1).
TEST_F(CliUsage, FifoAndFolderInputsAreRefused) {
  const std::string fifo = scratch_ + "/pipe.h5", folder = scratch_ + "/folder.h5";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  fs::create_directories(folder);
  for (const std::string& input : {fifo, folder}) {
    const std::string what = input == fifo ? "a FIFO" : "a directory";
    for (const std::string& args :
         {"inspect " + input, std::string(kTinyTraining) + " --data " + input, "eval --checkpoint " + input,
          std::string(kTinyTraining) + " --resume " + input, std::string(kTinyTraining) + " --reference " + input,
          "dataset info " + input, "dataset build " + input + " -o " + scratch_ + "/set.h5", "label " + input,
          "sweep run " + input + " --ledger " + scratch_ + "/ledger.db"}) {
      const CommandResult r = run_dasnet(args, scratch_, 60);
      EXPECT_EQ(r.exit_code, 1) << "dasnet " << args << " (124: it hung)\n" << r.err;
      EXPECT_NE(r.err.find(input + ": " + what), std::string::npos) << "dasnet " << args << "\n" << r.err;
    }
  }
}

TEST(InputPath, FoldersPassOnlyWhereFoldersAreMeant) {
  const std::string dir = fixtures::make_temp_dir("input-path");
  const std::string file = dir + "/record.h5";
  fixtures::write_bytes(file, "x");
  EXPECT_NO_THROW(require_input_path(file));
  EXPECT_NO_THROW(require_input_path(file, InputKind::file_or_folder));
  EXPECT_NO_THROW(require_input_path(dir, InputKind::file_or_folder));
  EXPECT_THROW(require_input_path(dir), std::runtime_error);
  EXPECT_THROW(require_input_path(dir + "/missing.h5", InputKind::file_or_folder), std::runtime_error);
  const std::string fifo = dir + "/pipe";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_THROW(require_input_path(fifo, InputKind::file_or_folder), std::runtime_error);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace dasnet
