// Sweeps end to end on the CPU with the dasnet command: a small grid with a diverging trial,
// a driver killed with SIGKILL at random moments and resumed, a stopped driver and a second
// one, a hung trial given up on, and early stopping.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "sweep/ledger.h"
#include "sweep/sweep_runner.h"
#include "sweep_test_util.h"

namespace dasnet {
namespace {

namespace fs = std::filesystem;
using sweep_testing::dasnet;
using sweep_testing::read_text;
using sweep_testing::scratch_dir;
using sweep_testing::write_text;

int count_of(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Starts `dasnet sweep run spec.toml --ledger l.db ARGS...` in `dir` in the background, its
// output into `log` (/dev/null when empty).
pid_t start_driver(const std::string& dir, std::vector<std::string> args, const std::string& log = "") {
  std::vector<std::string> words = {DASNET_BINARY, "sweep", "run", "spec.toml", "--ledger", "l.db", "--no-progress"};
  words.insert(words.end(), args.begin(), args.end());
  const pid_t pid = fork();
  if (pid == 0) {
    if (chdir(dir.c_str()) != 0) _exit(126);
    int out = log.empty() ? open("/dev/null", O_WRONLY) : open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, 1);
    dup2(out, 2);
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    execv(DASNET_BINARY, argv.data());
    _exit(127);
  }
  return pid;
}

// Polls `done` every 50 ms for up to `seconds`; returns whether it became true.
template <class Condition>
bool wait_until(Condition done, double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

// Waits up to `seconds` for `pid` to exit (SIGKILL after that); its exit code, -1 if killed.
int wait_for_exit(pid_t pid, double seconds) {
  int status = 0;
  if (!wait_until([&] { return waitpid(pid, &status, WNOHANG) == pid; }, seconds)) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(SweepRun, SmallGridEndToEndWithADivergingTrial) {
  auto dir = scratch_dir("sweep_grid");
  ASSERT_EQ(dasnet("dataset reference -o ref.h5 --patch-channels 16 --patch-samples 16", dir).code, 0);
  write_text(dir + "/spec.toml", R"(
[space]
depth = [2, 8]
lr = [0.02, 1e6]
batch_size = [32]
images_per_class = [64]
epochs = [2]
[data]
image_height = 16
image_width = 16
reference = "ref.h5"
[run]
threads = 1
)");
  auto r = dasnet("sweep run spec.toml --ledger l.db --parallel 2 --no-progress", dir);
  ASSERT_EQ(r.code, 0) << r.out;
  Ledger ledger(dir + "/l.db");
  auto c = ledger.counts();
  EXPECT_EQ(c.total(), 4);
  EXPECT_EQ(c.complete + c.diverged, 4) << r.out;
  EXPECT_GE(c.diverged, 1) << "lr 1e6 should diverge";
  for (const auto& t : ledger.trials()) {
    TrialConfig config = TrialConfig::from_json(t.config);
    if (t.state == TrialState::complete) {
      auto epochs = ledger.epochs(t.id);
      ASSERT_EQ(epochs.size(), 2u);
      EXPECT_EQ(epochs[1].metrics.p_usable.size(), 4u);
      EXPECT_GT(epochs[1].metrics.samples_per_s, 0);
      EXPECT_TRUE(std::filesystem::exists(epochs[1].checkpoint)) << epochs[1].checkpoint;
    } else {
      EXPECT_EQ(config.lr, 1e6);
      EXPECT_NE(t.message.find("training diverged"), std::string::npos) << t.message;
    }
  }
  // Running again finds nothing to do and changes nothing.
  auto again = dasnet("sweep run spec.toml --ledger l.db --no-progress", dir);
  EXPECT_EQ(again.code, 0) << again.out;
  EXPECT_NE(again.out.find("(0 new"), std::string::npos);
  auto status = dasnet("sweep status --ledger l.db", dir);
  EXPECT_NE(status.out.find("4 trials"), std::string::npos) << status.out;
  // The Slurm script calls the worker on the same ledger.
  auto slurm = dasnet("sweep run spec.toml --ledger l.db --slurm job.sh --slurm-tasks 3", dir);
  ASSERT_EQ(slurm.code, 0) << slurm.out;
  std::string script = read_text(dir + "/job.sh");
  EXPECT_NE(script.find("#SBATCH --array=0-2"), std::string::npos);
  EXPECT_NE(script.find("sweep worker --ledger"), std::string::npos);
}

TEST(SweepRun, DriverKilledAtRandomMomentsResumesWithoutRepeatingTrials) {
  auto dir = scratch_dir("sweep_kill");
  write_text(dir + "/spec.toml", R"(
[space]
depth = [2, 8]
lr = [0.01, 0.02, 0.05]
batch_size = [32]
images_per_class = [200]
epochs = [4]
[data]
image_height = 16
image_width = 16
[run]
threads = 1
heartbeat_timeout_s = 600
)");
  std::mt19937 rng(1234);
  int kills = 0;
  for (int round = 0; round < 5; ++round) {
    pid_t pid = start_driver(dir, {"--parallel", "2"});
    ASSERT_GE(pid, 0);
    std::uniform_int_distribution<int> delay_ms(200, 1500);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      ++kills;
    }
  }
  EXPECT_GE(kills, 2);
  auto r = dasnet("sweep run spec.toml --ledger l.db --parallel 2 --no-progress", dir);
  ASSERT_EQ(r.code, 0) << r.out;
  Ledger ledger(dir + "/l.db");
  EXPECT_EQ(ledger.counts().complete, 6) << r.out;
  for (const auto& t : ledger.trials()) {
    auto epochs = ledger.epochs(t.id);
    ASSERT_EQ(epochs.size(), 4u) << "trial " << t.id;
    for (int e = 0; e < 4; ++e) EXPECT_EQ(epochs[size_t(e)].metrics.epoch, e + 1);
    // Exactly one training run reached its end; every epoch appears once in the metrics file.
    std::string log = read_text(t.run_dir + "/train.log");
    EXPECT_EQ(count_of(log, "final: train accuracy"), 1) << t.run_dir;
    std::string metrics = read_text(t.run_dir + "/metrics.jsonl");
    EXPECT_EQ(count_of(metrics, "\"epoch\":"), 4) << metrics;
  }
}

// One trial of 12 epochs (several seconds on a shared 2-core machine); [run] is last, open.
const char* kOneLongTrial = R"(
[space]
depth = [2]
lr = [0.02]
batch_size = [32]
images_per_class = [400]
epochs = [12]
[data]
image_height = 32
image_width = 32
[run]
threads = 1
)";

// Waits until the only trial of the ledger dir/l.db has finished an epoch; its dasnet train's
// pid (0 if that did not happen within `seconds`).
int64_t child_after_first_epoch(const std::string& dir, double seconds) {
  int64_t child = 0;
  wait_until(
      [&] {
        try {
          const TrialRow t = Ledger::open_read_only(dir + "/l.db")->trials().at(0);
          child = t.epochs_done >= 1 ? t.child_pid : 0;
        } catch (const std::exception&) {  // the ledger or its trial not written yet
        }
        return child > 0;
      },
      seconds);
  return child;
}

// Issue 15.5: Ctrl-Z of a driver, a second `sweep run`, then fg. The stopped driver's dasnet
// train keeps running (its own process group), so the second driver must not start the trial
// again; before the fix it did (expired heartbeat), and the metrics file held epochs 1 2 3 3 4 4.
TEST(SweepRun, StoppedDriverKeepsItsTrialAndASecondDriverLeavesItAlone) {
  auto dir = scratch_dir("sweep_stopped");
  write_text(dir + "/spec.toml", std::string(kOneLongTrial) + "heartbeat_timeout_s = 2\n");
  const pid_t first = start_driver(dir, {}, dir + "/first.txt");
  ASSERT_GT(first, 0);
  auto trial = [&] { return Ledger::open_read_only(dir + "/l.db")->trials().at(0); };
  ASSERT_GT(child_after_first_epoch(dir, 120), 0) << read_text(dir + "/first.txt");
  kill(first, SIGSTOP);  // Ctrl-Z
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // its heartbeat expires
  auto second = dasnet("sweep run spec.toml --ledger l.db --no-progress", dir);
  EXPECT_EQ(second.code, 0) << second.out;
  EXPECT_NE(second.out.find("1 running elsewhere"), std::string::npos) << second.out;
  EXPECT_EQ(trial().attempts, 1) << "the second driver started the stopped driver's trial again";
  kill(first, SIGCONT);  // fg
  EXPECT_EQ(wait_for_exit(first, 300), 0) << read_text(dir + "/first.txt");
  const TrialRow done = trial();
  EXPECT_EQ(done.state, TrialState::complete) << done.message;
  EXPECT_EQ(done.attempts, 1);
  auto epochs = Ledger::open_read_only(dir + "/l.db")->epochs(done.id);
  ASSERT_EQ(epochs.size(), 12u);
  for (int e = 0; e < 12; ++e) EXPECT_EQ(epochs[size_t(e)].metrics.epoch, e + 1);
  const std::string log = read_text(done.run_dir + "/train.log");
  EXPECT_EQ(count_of(log, "=== attempt"), 1) << log;
  EXPECT_EQ(count_of(log, "final: train accuracy"), 1) << log;
  const std::string metrics = read_text(done.run_dir + "/metrics.jsonl");
  EXPECT_EQ(count_of(metrics, "\"epoch\":"), 12) << metrics;
}

// Issue 15.12: a dasnet train that stops making progress (here SIGSTOPped, as a deadlock looks
// from outside) is killed after N x its typical epoch time and retried from its checkpoint. The
// spec's N is huge, so the kill shows that --progress-timeout overrides it.
TEST(SweepRun, HungTrialIsKilledAndRetried) {
  auto dir = scratch_dir("sweep_hung");
  write_text(dir + "/spec.toml",
             std::string(kOneLongTrial) + "retries = 1\nprogress_timeout_epochs = 1000\nprogress_timeout_floor_s = 2\n");
  const pid_t driver = start_driver(dir, {"--progress-timeout", "3"}, dir + "/driver.txt");
  ASSERT_GT(driver, 0);
  auto trial = [&] { return Ledger::open_read_only(dir + "/l.db")->trials().at(0); };
  const int64_t child = child_after_first_epoch(dir, 120);
  ASSERT_GT(child, 0) << read_text(dir + "/driver.txt");
  const auto stopped_at = std::chrono::steady_clock::now();
  kill(pid_t(child), SIGSTOP);
  EXPECT_EQ(wait_for_exit(driver, 300), 0) << read_text(dir + "/driver.txt");
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - stopped_at).count();
  const TrialRow done = trial();
  EXPECT_EQ(done.state, TrialState::complete) << done.message;
  EXPECT_EQ(done.attempts, 2);
  EXPECT_FALSE(process_alive(child)) << "the hung dasnet train was left running";
  const std::string log = read_text(done.run_dir + "/train.log");
  EXPECT_NE(log.find("no new metrics line for"), std::string::npos) << log;
  EXPECT_NE(log.find("resuming after epoch"), std::string::npos) << log;
  EXPECT_GE(waited, 6.0);  // 3 x the 2 s floor at least
  auto epochs = Ledger::open_read_only(dir + "/l.db")->epochs(done.id);
  ASSERT_EQ(epochs.size(), 12u);
  for (int e = 0; e < 12; ++e) EXPECT_EQ(epochs[size_t(e)].metrics.epoch, e + 1);
}

TEST(SweepRun, EarlyStoppingSavesEpochsAndKeepsTheBestModel) {
  auto dir = scratch_dir("sweep_prune");
  const std::string space = R"(
[space]
depth = [2]
lr = [0.02, 0.03, 0.00001, 0.000001, 0.0000001]
batch_size = [32]
images_per_class = [150]
epochs = [12]
[data]
image_height = 32
image_width = 32
[run]
threads = 1
)";
  // The rung comes early (epoch 3 of 12, each epoch ~0.15 s) so the driver, polling every
  // 0.2 s, always stops a pruned trial well before it would have finished.
  write_text(dir + "/full.toml", space);
  write_text(dir + "/pruned.toml",
             space + "[early_stopping]\nrule = \"median\"\nat_epochs = [3]\nmin_trials = 2\n");
  ASSERT_EQ(dasnet("sweep run full.toml --ledger full.db --no-progress", dir).code, 0);
  auto r = dasnet("sweep run pruned.toml --ledger pruned.db --no-progress", dir);
  ASSERT_EQ(r.code, 0) << r.out;
  Ledger full(dir + "/full.db"), pruned(dir + "/pruned.db");
  long planned = 0, saved = 0;
  pruning_savings(pruned, &planned, &saved);
  EXPECT_GT(pruned.counts().pruned, 0);
  EXPECT_GT(saved, 0);
  EXPECT_EQ(planned, 60);
  EXPECT_NE(r.out.find("early stopping saved"), std::string::npos) << r.out;
  // The best final model of the full sweep is still trained to the end with pruning.
  std::map<std::string, double> final_acc;
  std::string best;
  for (const auto& t : full.trials()) {
    double acc = full.epochs(t.id).back().metrics.val_accuracy;
    if (best.empty() || acc > final_acc[best]) best = t.config;
    final_acc[t.config] = acc;
  }
  for (const auto& t : pruned.trials())
    if (t.config == best) {
      EXPECT_EQ(t.state, TrialState::complete) << best;
    }
  std::printf("[ info ] early stopping: %ld of %ld epochs saved, %d of 5 trials pruned; best model kept\n", saved,
              planned, pruned.counts().pruned);
}

}  // namespace
}  // namespace dasnet
