// What survives what (README "What survives what"): a kill -9 in the middle of a checkpoint
// write, a full disk under every writer, a sweep restarted over an unreadable checkpoint, an
// output that is one of the command's inputs, leftovers of killed writers, read-only commands.
// Fault injection uses strace (inject=pwrite64:signal=KILL) and small tmpfs mounts; the tests
// that need them are skipped, with a message, where strace is missing or the suite is not root.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "io/checkpoint.h"
#include "io/durable_file.h"
#include "sweep/ledger.h"
#include "sweep_test_util.h"

namespace dasnet {
namespace {

namespace fs = std::filesystem;
using sweep_testing::dasnet;
using sweep_testing::read_text;
using sweep_testing::scratch_dir;
using sweep_testing::write_text;

const char* kTrainSmall =
    "train --depth 2 --synthetic-per-class 32 --image-height 16 --image-width 16 --no-progress --threads 1";

bool have_strace() { return std::system("strace -V >/dev/null 2>&1") == 0; }

// Every regular file under `dir` whose name holds ".tmp." (a temporary left behind).
std::vector<std::string> temporaries_under(const std::string& dir) {
  std::vector<std::string> found;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().filename().string().find(".tmp.") != std::string::npos) found.push_back(e.path().string());
  return found;
}

TEST(Durability, KillDuringCheckpointWriteLeavesNoCorruptCheckpoint) {
  if (!have_strace()) GTEST_SKIP() << "strace is not installed (scripts/apt-packages.txt lists it)";
  auto dir = scratch_dir("durable_kill");
  // A one-epoch training makes 9 pwrite64 calls, all of them the checkpoint's: kill at each.
  for (int when = 1; when <= 10; ++when) {
    fs::remove_all(dir + "/ck");
    const std::string strace = "strace -f -o /dev/null -e trace=pwrite64 -e inject=pwrite64:signal=KILL:when=" +
                               std::to_string(when) + " \"" + DASNET_BINARY + "\" ";
    const std::string command = "cd \"" + dir + "\" && " + strace + kTrainSmall +
                                " --epochs 1 --checkpoint-dir ck >/dev/null 2>&1";
    std::system(command.c_str());
    const std::string checkpoint = dir + "/ck/epoch_0001.h5";
    if (!fs::exists(checkpoint)) continue;  // killed before the rename: nothing under the final name
    EXPECT_NO_THROW(load_checkpoint(checkpoint)) << "kill at pwrite64 #" << when;
    auto eval = dasnet("eval --checkpoint ck/epoch_0001.h5 --synthetic-per-class 8 --threads 1", dir);
    EXPECT_EQ(eval.code, 0) << "kill at pwrite64 #" << when << ": " << eval.out;
  }
}

TEST(Durability, SweepResumesFromTheLastCheckpointThatLoads) {
  auto dir = scratch_dir("durable_sweep");
  write_text(dir + "/spec.toml", R"(
[space]
depth = [2]
lr = [0.02]
batch_size = [32]
images_per_class = [64]
epochs = [2]
[data]
image_height = 16
image_width = 16
[run]
threads = 1
)");
  ASSERT_EQ(dasnet("sweep run spec.toml --ledger l.db --no-progress", dir).code, 0);
  int64_t id = 0;
  std::string final_checkpoint;
  {
    Ledger ledger(dir + "/l.db");
    ASSERT_EQ(ledger.counts().complete, 1);
    const TrialRow trial = ledger.trials().at(0);
    id = trial.id;
    final_checkpoint = trial.run_dir + "/checkpoints/epoch_0002.h5";
    // The node died while the final checkpoint was written, after its metrics line: the file
    // under the final name is cut short, and the trial is back in the queue.
    ASSERT_TRUE(checkpoint_is_readable(final_checkpoint));
    fs::resize_file(final_checkpoint, fs::file_size(final_checkpoint) / 2);
    ledger.finish(id, TrialState::waiting, "node lost");
  }
  auto again = dasnet("sweep run spec.toml --ledger l.db --no-progress", dir);
  ASSERT_EQ(again.code, 0) << again.out;
  Ledger ledger(dir + "/l.db");
  ASSERT_EQ(ledger.trial(id)->state, TrialState::complete);
  // Not called complete over the unreadable file: epoch 2 was trained again from epoch 1's.
  EXPECT_TRUE(checkpoint_is_readable(final_checkpoint));
  EXPECT_NE(read_text(ledger.trial(id)->run_dir + "/train.log").find("resuming after epoch 1"), std::string::npos);
}

}  // namespace
}  // namespace dasnet
