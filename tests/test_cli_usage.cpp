// How the dasnet command answers wrong flags and unusable inputs, run as users run it: exit 2 and
// a message naming the flag for usage errors, exit 1 naming the file for bad files; never a crash
// or a hang.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <sys/stat.h>

#include <filesystem>
#include <stdexcept>
#include <string>

#include "core/usage_error.h"
#include "dasnet/build_config.h"
#include "io/checkpoint.h"
#include "io/hdf5_util.h"
#include "io/input_path.h"
#include "kernels/cpu_isa.h"
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

// --version names the release, the commit, the CPU's vector ISA as detected on this machine and
// each optional library as compiled in (the same facts dasnet/build_config.h has).
TEST_F(CliUsage, VersionNamesCommitIsaAndLibraries) {
  const CommandResult r = run("--version");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("dasnet " DASNET_VERSION "\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("commit: "), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("commit: unknown"), std::string::npos) << "built from a git checkout\n" << r.out;
  const std::string isa = cpu_isa_supported(CpuIsa::Avx512) ? "avx512"
                          : cpu_isa_supported(CpuIsa::Avx2)  ? "avx2"
                                                             : "baseline";
  EXPECT_NE(r.out.find("cpu isa: " + isa + "\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(DASNET_HAVE_DNNL ? "onednn: yes" : "onednn: no"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(DASNET_HAVE_HDF5 ? "hdf5: yes" : "hdf5: no"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(DASNET_HAVE_CUDA ? "cuda: yes" : "cuda: no"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(DASNET_HAVE_CUDA ? "cudnn: yes" : "cudnn: no"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(DASNET_BUILT_WITH_NCCL ? "nccl: yes" : "nccl: no"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(DASNET_BUILT_WITH_MPI ? "mpi: yes" : "mpi: no"), std::string::npos) << r.out;
  // A bad DASNET_CPU_ISA breaks training, not the question what the binary is.
  setenv("DASNET_CPU_ISA", "no-such-isa", 1);
  const CommandResult forced = run("--version");
  unsetenv("DASNET_CPU_ISA");
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
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

// Numbers out of range were accepted: "inf" for floating-point flags, and "-1" wrapped to 2^64 - 1
// in unsigned ones. Each case exits 2 with a message naming the flag, before anything runs.
TEST_F(CliUsage, OutOfRangeNumbersAreUsageErrors) {
  struct Case {
    std::string args, flag;
  };
  const std::string rec = scratch_ + "/rec.h5", out = " -o " + scratch_ + "/out.h5";
  fixtures::write_bytes(rec, "x");
  const Case cases[] = {
      {"train --weight-decay inf", "--weight-decay"},
      {"train --gamma inf", "--gamma"},
      {"train --lr nan", "--lr"},
      {"train --lr -0.1", "--lr"},
      {"train --momentum -1", "--momentum"},
      {"train --batch-size -4", "--batch-size"},
      {"train --seed -1", "--seed"},
      {"train --synthetic-seed -1", "--synthetic-seed"},
      {"train --depth -8", "--depth"},
      {"train --step-size 0", "--step-size"},
      {"train --warmup-epochs -1", "--warmup-epochs"},
      {"eval --checkpoint " + rec + " --batch-size -1", "--batch-size"},
      {"dataset build " + rec + out + " --per-class -1", "--per-class"},
      {"dataset build " + rec + out + " --patch-channels -200", "--patch-channels"},
      {"dataset build " + rec + out + " --train inf", "--train"},
      {"dataset build " + rec + out + " --bins -3", "--bins"},
      {"dataset reference" + out + " --pick white_noise=" + rec + ":-1:0", "--pick"},
      {"dataset reference" + out + " --pick white_noise=" + rec + ":0:-5", "--pick"},
      {"dataset reference" + out + " --pick white_noise=" + rec + ":1e3:0", "--pick"},
      {"label " + rec + " --waves-ratio inf", "--waves-ratio"},
      {"infer " + rec + " " + rec + " -o " + scratch_ + "/maps --stride-channels -3", "--stride-channels"},
      {"infer " + rec + " " + rec + " -o " + scratch_ + "/maps --stride -1", "--stride"},
      {"select --ledger " + rec + " --top -1", "--top"},
      {"sweep run spec.toml --ledger l.db --retries -1", "--retries"},
      {"sweep run spec.toml --ledger l.db --parallel 0", "--parallel"},
      {"synth" + out + " --rate inf", "--rate"},
      {"synth" + out + " --channels -1", "--channels"},
      {"bench scaling --steps -1", "--steps"},
      {"bench scaling --depths 8,-3", "--depths"},
      {"train --bucket-kb -1", "--bucket-kb"},
  };
  for (const Case& c : cases) expect_usage_error(c.args, c.flag);
}

// --resume silently ignored --depth, --lr, --batch-size, --momentum... given with it. A flag that
// contradicts the checkpoint is now a usage error; one that agrees (the sweep repeats a trial's
// command line) is accepted.
TEST_F(CliUsage, ResumeRefusesFlagsThatContradictTheCheckpoint) {
  const CommandResult first = run(std::string(kTinyTraining) + " --checkpoint-dir " + scratch_ + "/ck");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const std::string resume =
      "train --synthetic-per-class 8 --no-progress --epochs 2 --resume " + scratch_ + "/ck/epoch_0001.h5";
  for (const std::string flag : {"--depth 8", "--lr 0.5", "--batch-size 4", "--momentum 0.5", "--width 8",
                                 "--weight-decay 0.01", "--schedule cosine", "--nesterov", "--seed 7", "--no-fuse"}) {
    const CommandResult r = run(resume + " " + flag);
    EXPECT_EQ(r.exit_code, 2) << flag << "\n" << r.err;
    EXPECT_NE(r.err.find(flag.substr(0, flag.find(' '))), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("contradicts --resume"), std::string::npos) << r.err;
  }
  const CommandResult same =
      run(resume + " --depth 2 --image-height 16 --image-width 16 --lr 0.001 --momentum 0.9 --seed 0");
  EXPECT_EQ(same.exit_code, 0) << same.err;
  EXPECT_NE(same.out.find("epochs 2..2"), std::string::npos) << same.out;
}

// A checkpoint's epochs_done was used unchecked: -1 or a huge count trained nonsense.
TEST_F(CliUsage, CheckpointEpochsDoneIsChecked) {
  const CommandResult first = run(std::string(kTinyTraining) + " --checkpoint-dir " + scratch_ + "/ck");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  for (const int64_t epochs_done : {int64_t(-1), int64_t(2), int64_t(1) << 40}) {
    const std::string bad = scratch_ + "/epochs_done_" + std::to_string(epochs_done) + ".h5";
    fixtures::copy_file(scratch_ + "/ck/epoch_0001.h5", bad);
    {
      h5::Handle file(H5Fopen(bad.c_str(), H5F_ACC_RDWR, H5P_DEFAULT));
      ASSERT_TRUE(file.valid());
      h5::set_attr(file, "epochs_done", epochs_done);
    }
    EXPECT_THROW(
        try { load_checkpoint(bad); } catch (const std::runtime_error& e) {
          EXPECT_NE(std::string(e.what()).find(bad + ": attribute epochs_done = " + std::to_string(epochs_done)),
                    std::string::npos)
              << e.what();
          throw;
        },
        std::runtime_error);
    const CommandResult r = run(std::string(kTinyTraining) + " --resume " + bad);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("epochs_done"), std::string::npos) << r.err;
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
