// The sweep ledger: one SQLite file that every driver and worker of a sweep shares.
//
// Tables
//   meta(key, value)              spec text and directory, ledger schema version
//   trials(id, config, state, attempts, heartbeat, created, started, finished, seconds, host,
//          owner_pid, child_pid, run_dir, message, epochs_done)
//          state: waiting, running, complete, failed, diverged, pruned
//   epochs(trial_id, epoch, train_loss, train_accuracy, val_loss, val_accuracy, samples_per_s,
//          epoch_seconds, peak_memory_mb, lr, checkpoint)
//   p_usable(trial_id, epoch, reference, p)
//
// Concurrency: WAL journal (readers never block the writer), a busy timeout so concurrent
// writers wait instead of failing, and every state change in one transaction; claiming a trial
// is BEGIN IMMEDIATE (takes the write lock before reading), so two workers never claim the same
// trial. WAL needs every process on one host (shared memory): on a network file system shared
// by several nodes use JournalMode::rollback (sweep/README.md).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;

namespace dasnet {

enum class JournalMode { wal, rollback };
JournalMode parse_journal_mode(const std::string& name);  // "wal" or "delete"; throws UsageError

enum class TrialState { waiting, running, complete, failed, diverged, pruned };
const char* trial_state_name(TrialState state);
TrialState parse_trial_state(const std::string& name);

struct TrialRow {
  int64_t id = 0;
  std::string config;  // TrialConfig JSON
  TrialState state = TrialState::waiting;
  int attempts = 0;
  double heartbeat = 0, created = 0, started = 0, finished = 0, seconds = 0;  // unix seconds; seconds = run time
  std::string host, run_dir, message;
  int64_t owner_pid = 0, child_pid = 0;
  int epochs_done = 0;
};

struct EpochRow {
  int64_t trial_id = 0;
  int epoch = 0;
  double train_loss = 0, train_accuracy = 0, val_loss = 0, val_accuracy = 0;
  double samples_per_s = 0, epoch_seconds = 0, peak_memory_mb = 0, lr = 0;
  std::string checkpoint;  // empty when none was kept
  std::vector<std::pair<std::string, double>> p_usable;  // reference name -> P(usable)
};

struct StateCounts {
  int waiting = 0, running = 0, complete = 0, failed = 0, diverged = 0, pruned = 0;
  int total() const { return waiting + running + complete + failed + diverged + pruned; }
};

double unix_now();
std::string host_name();
bool process_alive(int64_t pid);

class Ledger {
 public:
  explicit Ledger(const std::string& path, JournalMode mode = JournalMode::wal, int busy_timeout_ms = 60000);
  ~Ledger();
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;
  const std::string& path() const { return path_; }

  void set_meta(const std::string& key, const std::string& value);
  std::optional<std::string> meta(const std::string& key) const;

  // Inserts the trials not there yet (identity = config text); returns how many were new.
  int add_trials(const std::vector<std::string>& configs);

  // Running trials whose owner is gone go back to waiting: heartbeat older than the timeout, or
  // the owning process on this host has exited. Returns their ids.
  std::vector<int64_t> requeue_stale(double heartbeat_timeout_s);
  // Failed trials with attempts <= retries go back to waiting; returns how many.
  int requeue_failed(int retries);

  // Takes the first waiting trial for this process (BEGIN IMMEDIATE); nullopt when none waits.
  std::optional<TrialRow> claim(const std::string& run_dir_root);
  void set_child(int64_t trial_id, int64_t child_pid);
  void heartbeat(int64_t trial_id);
  // Epoch metrics, its P(usable) rows and a heartbeat in one transaction (replaces that epoch).
  void record_epoch(const EpochRow& row);
  // Removes the epochs after `last_kept` (a restarted trial trains them again).
  void forget_epochs_after(int64_t trial_id, int last_kept);
  void set_checkpoint(int64_t trial_id, int epoch, const std::string& path);
  // Ends an attempt: complete, diverged, pruned, failed; or back to waiting.
  void finish(int64_t trial_id, TrialState state, const std::string& message);

  StateCounts counts() const;
  std::vector<TrialRow> trials() const;
  std::optional<TrialRow> trial(int64_t id) const;
  std::vector<EpochRow> epochs(int64_t trial_id = -1) const;  // -1: all, ordered by trial and epoch
  // val_accuracy at `epoch` of every trial that reported it, excluding `except_trial`.
  std::vector<double> val_accuracy_at(int epoch, int64_t except_trial) const;

 private:
  void exec(const std::string& sql) const;
  [[noreturn]] void fail(const std::string& what) const;
  std::string path_;
  sqlite3* db_ = nullptr;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back when an exception leaves the scope.
class LedgerTransaction {
 public:
  explicit LedgerTransaction(sqlite3* db, const std::string& path);
  ~LedgerTransaction();
  void commit();

 private:
  sqlite3* db_;
  std::string path_;
  bool done_ = false;
};

}  // namespace dasnet
