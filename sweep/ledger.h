// The sweep ledger: one SQLite file that every driver and worker of a sweep shares.
//
// Tables
//   meta(key, value)              spec text and directory, ledger schema version
//   trials(id, config, state, attempts, heartbeat, created, started, finished, seconds, host,
//          owner_pid, child_pid, run_dir, message, epochs_done, owner_started)
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
//
// Ownership: every write about a running trial carries its lease (the trial and the attempt
// number its claim gave, a fencing token) and is refused with TrialTakenOver once the trial was
// requeued or claimed again, so a driver that was stopped (Ctrl-Z) and resumed cannot record over
// the attempt that replaced it. A trial whose owner process is alive on this host is never
// requeued, however old its heartbeat (sweep/README.md, "Durability").
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/usage_error.h"
#include "io/this_host.h"
#include "train/trainer.h"

struct sqlite3;

namespace dasnet {

enum class JournalMode { wal, rollback };
JournalMode parse_journal_mode(const std::string& name);  // "wal" or "delete"; throws UsageError

enum class TrialState { waiting, running, complete, failed, diverged, pruned };
const char* trial_state_name(TrialState state);
TrialState parse_trial_state(const std::string& name);

// A running trial as one claim of it holds it: the fencing token of every write about it.
struct TrialLease {
  int64_t trial_id = 0;
  int attempt = 0;
};

// A write under a lease that no longer holds: the trial was requeued or claimed again since.
struct TrialTakenOver : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct TrialRow {
  int64_t id = 0;
  std::string config;  // TrialConfig JSON
  TrialState state = TrialState::waiting;
  int attempts = 0;
  double heartbeat = 0, created = 0, started = 0, finished = 0, seconds = 0;  // unix seconds; seconds = run time
  std::string host, run_dir, message;
  int64_t owner_pid = 0, child_pid = 0;
  int epochs_done = 0;
  int64_t owner_started = 0;  // start time of the owner process (clock ticks since boot; 0 = unknown)
  TrialLease lease() const { return {id, attempts}; }
};

// One epoch of a trial: the trainer's metrics line (the ledger keeps the fields its epochs and
// p_usable tables have) and the checkpoint kept for it.
struct EpochRow {
  int64_t trial_id = 0;
  EpochMetrics metrics;
  std::string checkpoint;  // empty when none was kept
};

struct StateCounts {
  int waiting = 0, running = 0, complete = 0, failed = 0, diverged = 0, pruned = 0;
  int total() const { return waiting + running + complete + failed + diverged + pruned; }
};

double unix_now();

// What a sweep driver needs of a ledger. Ledger is the SQLite file itself; under MPI the worker
// ranks use a proxy that forwards each call to rank 0, the only process that opens the file
// (sweep/mpi_sweep.h).
class LedgerAccess {
 public:
  virtual ~LedgerAccess() = default;
  virtual const std::string& path() const = 0;
  virtual std::optional<std::string> meta(const std::string& key) const = 0;
  // Running trials whose owner is gone go back to waiting: the owning process on this host has
  // exited, or (owner on another host) its heartbeat is older than the timeout. An owner alive on
  // this host keeps its trial (it may be stopped, not dead). Returns their ids.
  virtual std::vector<int64_t> requeue_stale(double heartbeat_timeout_s) = 0;
  // Failed trials with attempts <= retries go back to waiting; returns how many.
  virtual int requeue_failed(int retries) = 0;
  // Takes the first waiting trial for this process (BEGIN IMMEDIATE); nullopt when none waits.
  virtual std::optional<TrialRow> claim(const std::string& run_dir_root) = 0;
  // The writes about a claimed trial; each throws TrialTakenOver when `lease` no longer holds.
  virtual void set_child(const TrialLease& lease, int64_t child_pid) = 0;
  virtual void heartbeat(const TrialLease& lease) = 0;
  // Epoch metrics, its P(usable) rows and a heartbeat in one transaction (replaces that epoch).
  virtual void record_epoch(const TrialLease& lease, const EpochRow& row) = 0;
  // Removes the epochs after `last_kept` (a restarted trial trains them again).
  virtual void forget_epochs_after(const TrialLease& lease, int last_kept) = 0;
  virtual void set_checkpoint(const TrialLease& lease, int epoch, const std::string& path) = 0;
  // Ends an attempt: complete, diverged, pruned, failed; or back to waiting.
  virtual void finish(const TrialLease& lease, TrialState state, const std::string& message) = 0;
  virtual StateCounts counts() const = 0;
  virtual std::vector<TrialRow> trials() const = 0;
  virtual std::optional<TrialRow> trial(int64_t id) const = 0;
  virtual std::vector<EpochRow> epochs(int64_t trial_id = -1) const = 0;  // -1: all, by trial and epoch
  // val_accuracy at `epoch` of every trial that reported it, excluding `except_trial`.
  virtual std::vector<double> val_accuracy_at(int epoch, int64_t except_trial) const = 0;
};

class Ledger : public LedgerAccess {
 public:
  explicit Ledger(const std::string& path, JournalMode mode = JournalMode::wal, int busy_timeout_ms = 60000);
  // For commands that only read (sweep status, select, report): never creates or changes a
  // file; a missing path is an error naming it.
  static std::unique_ptr<Ledger> open_read_only(const std::string& path);
  ~Ledger() override;
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;
  const std::string& path() const override { return path_; }

  void set_meta(const std::string& key, const std::string& value);
  std::optional<std::string> meta(const std::string& key) const override;

  // Inserts the trials not there yet (identity = config text); returns how many were new.
  int add_trials(const std::vector<std::string>& configs);

  std::vector<int64_t> requeue_stale(double heartbeat_timeout_s) override;
  int requeue_failed(int retries) override;
  std::optional<TrialRow> claim(const std::string& run_dir_root) override;
  // Claims for another process (an MPI worker rank): its host and pid are the trial's owner.
  // owner_started: the owner's process_start_ticks (0 = unknown), so a reused pid is not taken
  // for the owner.
  std::optional<TrialRow> claim_for(const std::string& run_dir_root, const std::string& owner_host,
                                    int64_t owner_pid, int64_t owner_started);
  void set_child(const TrialLease& lease, int64_t child_pid) override;
  void heartbeat(const TrialLease& lease) override;
  void record_epoch(const TrialLease& lease, const EpochRow& row) override;
  void forget_epochs_after(const TrialLease& lease, int last_kept) override;
  void set_checkpoint(const TrialLease& lease, int epoch, const std::string& path) override;
  void finish(const TrialLease& lease, TrialState state, const std::string& message) override;

  StateCounts counts() const override;
  std::vector<TrialRow> trials() const override;
  std::optional<TrialRow> trial(int64_t id) const override;
  std::vector<EpochRow> epochs(int64_t trial_id = -1) const override;
  std::vector<double> val_accuracy_at(int epoch, int64_t except_trial) const override;

 private:
  Ledger(const std::string& path, JournalMode mode, int busy_timeout_ms, bool read_only);
  void exec(const std::string& sql) const;
  void add_missing_columns();
  // Inside a transaction: throws TrialTakenOver unless the trial is running under `lease`.
  void require_lease(const TrialLease& lease) const;
  [[noreturn]] void fail(const std::string& what) const;
  std::string path_;
  sqlite3* db_ = nullptr;
  std::string trial_columns_;  // the SELECT list of a TrialRow (older ledgers lack owner_started)
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
