// The sweep ledger: claims are exclusive across connections, stale trials come back (never one
// whose owner lives on this host), writes under a lease that no longer holds are refused, epochs
// and probabilities round-trip; the pruning rules.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <thread>

#include "sweep/ledger.h"
#include "sweep/pruning.h"
#include "sweep_test_util.h"

namespace dasnet {
namespace {

std::vector<std::string> configs(int n) {
  std::vector<std::string> c;
  for (int i = 0; i < n; ++i) {
    TrialConfig t;
    t.seed = uint64_t(i);
    c.push_back(t.to_json());
  }
  return c;
}

TEST(SweepLedger, AddingTwiceAddsNothing) {
  auto dir = sweep_testing::scratch_dir("ledger_add");
  Ledger ledger(dir + "/l.db");
  EXPECT_EQ(ledger.add_trials(configs(5)), 5);
  EXPECT_EQ(ledger.add_trials(configs(7)), 2);
  EXPECT_EQ(ledger.counts().waiting, 7);
  EXPECT_EQ(*ledger.meta("schema_version"), "1");
}

TEST(SweepLedger, ConcurrentClaimsNeverShareATrial) {
  auto dir = sweep_testing::scratch_dir("ledger_claim");
  const std::string path = dir + "/l.db";
  { Ledger(path).add_trials(configs(60)); }
  std::vector<std::vector<int64_t>> claimed(4);
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w)
    workers.emplace_back([&, w] {
      Ledger mine(path);  // one connection per worker, as separate processes have
      while (auto t = mine.claim(dir + "/runs")) claimed[w].push_back(t->id);
    });
  for (auto& t : workers) t.join();
  std::set<int64_t> all;
  size_t total = 0;
  for (auto& c : claimed) {
    total += c.size();
    all.insert(c.begin(), c.end());
  }
  EXPECT_EQ(total, 60u);
  EXPECT_EQ(all.size(), 60u);
  Ledger ledger(path);
  EXPECT_EQ(ledger.counts().running, 60);
  for (auto& t : ledger.trials()) {
    EXPECT_EQ(t.attempts, 1);
    EXPECT_NE(t.run_dir.find("/runs/trial_"), std::string::npos);
  }
}

// A pid of this host that no process has any more.
int64_t exited_pid() {
  const pid_t pid = fork();
  if (pid == 0) _exit(0);
  waitpid(pid, nullptr, 0);
  return pid;
}

TEST(SweepLedger, StaleTrialsReturnToWaitingAndFinishedOnesStay) {
  auto dir = sweep_testing::scratch_dir("ledger_stale");
  Ledger ledger(dir + "/l.db", JournalMode::rollback);
  ledger.add_trials(configs(5));
  const int64_t me = getpid();
  auto done = ledger.claim(dir);
  auto mine = ledger.claim(dir);
  auto elsewhere = ledger.claim_for(dir, "another-node", me, 0);
  auto exited = ledger.claim_for(dir, host_name(), exited_pid(), 0);
  // This pid, but a later start time than the claim's: the pid was reused by another process.
  auto reused = ledger.claim_for(dir, host_name(), me, process_start_ticks(me) - 1);
  ledger.finish(done->lease(), TrialState::complete, "");
  auto requeued = ledger.requeue_stale(60);  // owners gone from this host: at once
  EXPECT_EQ(std::set<int64_t>(requeued.begin(), requeued.end()), (std::set<int64_t>{exited->id, reused->id}));
  // Every heartbeat counts as expired: the other host's trial goes back, this live process's
  // trial stays (its owner may be stopped, not dead, and its dasnet train may still run).
  requeued = ledger.requeue_stale(-1);
  ASSERT_EQ(requeued.size(), 1u);
  EXPECT_EQ(requeued[0], elsewhere->id);
  EXPECT_EQ(ledger.trial(done->id)->state, TrialState::complete);
  EXPECT_EQ(ledger.trial(mine->id)->state, TrialState::running);
  EXPECT_EQ(ledger.trial(elsewhere->id)->state, TrialState::waiting);
  EXPECT_NE(ledger.trial(elsewhere->id)->message.find("sent no heartbeat"), std::string::npos);
  EXPECT_NE(ledger.trial(exited->id)->message.find("has exited"), std::string::npos);
}

TEST(SweepLedger, WritesUnderAnOldLeaseAreRefused) {
  auto dir = sweep_testing::scratch_dir("ledger_lease");
  Ledger ledger(dir + "/l.db");
  ledger.add_trials(configs(1));
  const TrialLease first = ledger.claim_for(dir, "another-node", 1234, 0)->lease();
  ASSERT_EQ(ledger.requeue_stale(-1).size(), 1u);
  const TrialLease second = ledger.claim(dir)->lease();
  EXPECT_EQ(first.attempt, 1);
  EXPECT_EQ(second.attempt, 2);
  EpochRow row;
  row.metrics.epoch = 3;
  EXPECT_THROW(ledger.heartbeat(first), TrialTakenOver);
  EXPECT_THROW(ledger.set_child(first, 99), TrialTakenOver);
  EXPECT_THROW(ledger.record_epoch(first, row), TrialTakenOver);
  EXPECT_THROW(ledger.forget_epochs_after(first, 0), TrialTakenOver);
  EXPECT_THROW(ledger.set_checkpoint(first, 3, "x.h5"), TrialTakenOver);
  EXPECT_THROW(ledger.finish(first, TrialState::complete, ""), TrialTakenOver);
  // Nothing of the old attempt reached the ledger.
  EXPECT_TRUE(ledger.epochs().empty());
  EXPECT_EQ(ledger.trial(second.trial_id)->state, TrialState::running);
  EXPECT_EQ(ledger.trial(second.trial_id)->child_pid, 0);
  // The current attempt writes; once it has finished, its lease no longer holds either.
  ledger.record_epoch(second, row);
  EXPECT_EQ(ledger.trial(second.trial_id)->epochs_done, 3);
  ledger.finish(second, TrialState::complete, "");
  EXPECT_THROW(ledger.record_epoch(second, row), TrialTakenOver);
  EXPECT_THROW(ledger.finish(second, TrialState::waiting, ""), TrialTakenOver);
  EXPECT_EQ(ledger.trial(second.trial_id)->state, TrialState::complete);
}

TEST(SweepLedger, LedgerWithoutTheOwnerStartColumnOpens) {
  auto dir = sweep_testing::scratch_dir("ledger_old");
  const std::string path = dir + "/l.db";
  {
    Ledger ledger(path);
    ledger.add_trials(configs(2));
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "ALTER TABLE trials DROP COLUMN owner_started", nullptr, nullptr, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_close(db);
  EXPECT_EQ(Ledger::open_read_only(path)->trials().size(), 2u);
  Ledger ledger(path);  // adds the column
  auto t = ledger.claim(dir);
  EXPECT_EQ(t->owner_started, process_start_ticks(getpid()));
  EXPECT_GT(t->owner_started, 0);
}

TEST(SweepLedger, EpochsAndProbabilitiesRoundTrip) {
  auto dir = sweep_testing::scratch_dir("ledger_epochs");
  Ledger ledger(dir + "/l.db");
  ledger.add_trials(configs(1));
  auto t = ledger.claim(dir);
  for (int e = 1; e <= 3; ++e) {
    EpochRow r;
    r.trial_id = t->id;
    r.metrics.epoch = e;
    r.metrics.val_accuracy = 0.5 + 0.1 * e;
    r.metrics.p_usable = {{"white_noise", 0.01 * e}, {"saturated", 0.25}};
    ledger.record_epoch(t->lease(), r);
  }
  auto rows = ledger.epochs();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_NEAR(rows[2].metrics.val_accuracy, 0.8, 1e-12);
  ASSERT_EQ(rows[1].metrics.p_usable.size(), 2u);
  EXPECT_EQ(ledger.trial(t->id)->epochs_done, 3);
  ledger.forget_epochs_after(t->lease(), 1);
  EXPECT_EQ(ledger.epochs(t->id).size(), 1u);
  EXPECT_EQ(ledger.trial(t->id)->epochs_done, 1);
  EXPECT_EQ(ledger.val_accuracy_at(1, -1).size(), 1u);
}

TEST(SweepPruning, MedianRuleAndSuccessiveHalving) {
  EarlyStoppingSpec median;
  median.rule = PruningRule::median;
  median.at_epochs = {2};
  median.min_trials = 3;
  EXPECT_FALSE(decide_pruning(median, 2, 0.1, {0.9, 0.8}).prune);          // too few peers
  EXPECT_FALSE(decide_pruning(median, 3, 0.1, {0.9, 0.8, 0.7}).prune);     // not a rung
  EXPECT_TRUE(decide_pruning(median, 2, 0.75, {0.9, 0.8, 0.7, 0.85}).prune);  // median 0.825
  EXPECT_FALSE(decide_pruning(median, 2, 0.83, {0.9, 0.8, 0.7, 0.85}).prune);
  EarlyStoppingSpec halving = median;
  halving.rule = PruningRule::halving;
  halving.reduction_factor = 2;
  EXPECT_FALSE(decide_pruning(halving, 2, 0.95, {0.9, 0.8, 0.7}).prune);  // best of 4, keep 2
  EXPECT_FALSE(decide_pruning(halving, 2, 0.85, {0.9, 0.8, 0.7}).prune);  // 2nd of 4
  EXPECT_TRUE(decide_pruning(halving, 2, 0.75, {0.9, 0.8, 0.7}).prune);   // 3rd of 4
}

}  // namespace
}  // namespace dasnet
