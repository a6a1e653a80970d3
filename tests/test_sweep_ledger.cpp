// The sweep ledger: claims are exclusive across connections, stale trials come back, epochs and
// probabilities round-trip; the pruning rules.
#include <gtest/gtest.h>
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

TEST(SweepLedger, StaleTrialsReturnToWaitingAndFinishedOnesStay) {
  auto dir = sweep_testing::scratch_dir("ledger_stale");
  Ledger ledger(dir + "/l.db", JournalMode::rollback);
  ledger.add_trials(configs(3));
  auto a = ledger.claim(dir), b = ledger.claim(dir);
  ledger.finish(a->id, TrialState::complete, "");
  // b's owner is this (live) process: not stale until its heartbeat expires.
  EXPECT_TRUE(ledger.requeue_stale(60).empty());
  auto stale = ledger.requeue_stale(-1);  // every heartbeat counts as expired
  ASSERT_EQ(stale.size(), 1u);
  EXPECT_EQ(stale[0], b->id);
  EXPECT_EQ(ledger.trial(a->id)->state, TrialState::complete);
  EXPECT_EQ(ledger.trial(b->id)->state, TrialState::waiting);
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
    ledger.record_epoch(r);
  }
  auto rows = ledger.epochs();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_NEAR(rows[2].metrics.val_accuracy, 0.8, 1e-12);
  ASSERT_EQ(rows[1].metrics.p_usable.size(), 2u);
  EXPECT_EQ(ledger.trial(t->id)->epochs_done, 3);
  ledger.forget_epochs_after(t->id, 1);
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
