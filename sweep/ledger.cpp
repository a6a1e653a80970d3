#include "sweep/ledger.h"

#include <signal.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <stdexcept>

#include "core/tensor.h"
#include "core/usage_error.h"
#include "io/input_path.h"

namespace dasnet {

namespace {

constexpr int kSchemaVersion = 1;

const char* kSchema = R"SQL(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials(
  id INTEGER PRIMARY KEY,
  config TEXT NOT NULL UNIQUE,
  state TEXT NOT NULL DEFAULT 'waiting'
    CHECK(state IN ('waiting','running','complete','failed','diverged','pruned')),
  attempts INTEGER NOT NULL DEFAULT 0,
  heartbeat REAL, created REAL NOT NULL, started REAL, finished REAL, seconds REAL NOT NULL DEFAULT 0,
  host TEXT, owner_pid INTEGER, child_pid INTEGER, run_dir TEXT, message TEXT,
  epochs_done INTEGER NOT NULL DEFAULT 0, owner_started INTEGER);
CREATE INDEX IF NOT EXISTS trials_by_state ON trials(state, id);
CREATE TABLE IF NOT EXISTS epochs(
  trial_id INTEGER NOT NULL REFERENCES trials(id), epoch INTEGER NOT NULL,
  train_loss REAL, train_accuracy REAL, val_loss REAL, val_accuracy REAL,
  samples_per_s REAL, epoch_seconds REAL, peak_memory_mb REAL, lr REAL, checkpoint TEXT,
  PRIMARY KEY(trial_id, epoch));
CREATE TABLE IF NOT EXISTS p_usable(
  trial_id INTEGER NOT NULL, epoch INTEGER NOT NULL, reference TEXT NOT NULL, p REAL NOT NULL,
  PRIMARY KEY(trial_id, epoch, reference));
)SQL";

// One prepared statement; bind by position (1-based), step, read columns.
class Statement {
 public:
  Statement(sqlite3* db, const std::string& path, const char* sql) : db_(db), path_(path) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK)
      throw std::runtime_error(path + ": SQLite: " + sqlite3_errmsg(db) + " in: " + sql);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement& bind(int i, int64_t v) { return check(sqlite3_bind_int64(stmt_, i, v)); }
  Statement& bind(int i, int v) { return check(sqlite3_bind_int64(stmt_, i, v)); }
  Statement& bind(int i, double v) { return check(sqlite3_bind_double(stmt_, i, v)); }
  Statement& bind(int i, const std::string& v) {
    return check(sqlite3_bind_text(stmt_, i, v.c_str(), int(v.size()), SQLITE_TRANSIENT));
  }
  Statement& bind_null(int i) { return check(sqlite3_bind_null(stmt_, i)); }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  bool step() {  // true while rows come
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw std::runtime_error(path_ + ": SQLite: " + sqlite3_errmsg(db_));
  }
  int64_t integer(int c) const { return sqlite3_column_int64(stmt_, c); }
  double real(int c) const { return sqlite3_column_double(stmt_, c); }
  std::string text(int c) const {
    auto* t = sqlite3_column_text(stmt_, c);
    return t ? reinterpret_cast<const char*>(t) : "";
  }

 private:
  Statement& check(int rc) {
    if (rc != SQLITE_OK) throw std::runtime_error(path_ + ": SQLite bind: " + sqlite3_errmsg(db_));
    return *this;
  }
  sqlite3* db_;
  std::string path_;
  sqlite3_stmt* stmt_ = nullptr;
};

const char* kTrialColumns =
    "id, config, state, attempts, heartbeat, created, started, finished, seconds, host, owner_pid, child_pid, "
    "run_dir, message, epochs_done";

// The SELECT list of a TrialRow; a ledger opened read-only may predate the owner_started column.
std::string trial_columns(bool has_owner_started) {
  return std::string(kTrialColumns) + (has_owner_started ? ", owner_started" : ", 0 AS owner_started");
}

TrialRow read_trial(const Statement& s) {
  TrialRow r;
  r.id = s.integer(0);
  r.config = s.text(1);
  r.state = parse_trial_state(s.text(2));
  r.attempts = int(s.integer(3));
  r.heartbeat = s.real(4);
  r.created = s.real(5);
  r.started = s.real(6);
  r.finished = s.real(7);
  r.seconds = s.real(8);
  r.host = s.text(9);
  r.owner_pid = s.integer(10);
  r.child_pid = s.integer(11);
  r.run_dir = s.text(12);
  r.message = s.text(13);
  r.epochs_done = int(s.integer(14));
  r.owner_started = s.integer(15);
  return r;
}

bool has_column(sqlite3* db, const std::string& path, const char* table, const char* column) {
  Statement s(db, path, (std::string("SELECT 1 FROM pragma_table_info('") + table + "') WHERE name = ?").c_str());
  s.bind(1, std::string(column));
  return s.step();
}

// The process `pid` of this host is the one that claimed (same start time, when both are known).
bool owner_alive_here(int64_t pid, int64_t started) {
  if (!process_alive(pid)) return false;
  const int64_t now_started = process_start_ticks(pid);
  return started == 0 || now_started == 0 || now_started == started;
}

}  // namespace

JournalMode parse_journal_mode(const std::string& name) {
  if (name == "wal") return JournalMode::wal;
  if (name == "delete" || name == "rollback") return JournalMode::rollback;
  throw UsageError("--journal: '" + name + "' is not wal or delete");
}

const char* trial_state_name(TrialState state) {
  switch (state) {
    case TrialState::waiting: return "waiting";
    case TrialState::running: return "running";
    case TrialState::complete: return "complete";
    case TrialState::failed: return "failed";
    case TrialState::diverged: return "diverged";
    case TrialState::pruned: return "pruned";
  }
  return "?";
}

TrialState parse_trial_state(const std::string& name) {
  for (auto s : {TrialState::waiting, TrialState::running, TrialState::complete, TrialState::failed,
                 TrialState::diverged, TrialState::pruned})
    if (name == trial_state_name(s)) return s;
  throw std::runtime_error("ledger: unknown trial state '" + name + "'");
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

LedgerTransaction::LedgerTransaction(sqlite3* db, const std::string& path) : db_(db), path_(path) {
  char* error = nullptr;
  if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : "?";
    sqlite3_free(error);
    throw std::runtime_error(path_ + ": SQLite: BEGIN IMMEDIATE: " + message);
  }
}

LedgerTransaction::~LedgerTransaction() {
  if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

void LedgerTransaction::commit() {
  char* error = nullptr;
  if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : "?";
    sqlite3_free(error);
    throw std::runtime_error(path_ + ": SQLite: COMMIT: " + message);
  }
  done_ = true;
}

Ledger::Ledger(const std::string& path, JournalMode mode, int busy_timeout_ms)
    : Ledger(path, mode, busy_timeout_ms, false) {}

std::unique_ptr<Ledger> Ledger::open_read_only(const std::string& path) {
  require_input_path(path);  // SQLite would open a missing file as an empty database
  return std::unique_ptr<Ledger>(new Ledger(path, JournalMode::wal, 60000, true));
}

Ledger::Ledger(const std::string& path, JournalMode mode, int busy_timeout_ms, bool read_only) : path_(path) {
  const int flags = (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_FULLMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw std::runtime_error(path + ": cannot open the ledger: " + message);
  }
  sqlite3_busy_timeout(db_, busy_timeout_ms);
  try {
    if (read_only) {
      const auto version = meta("schema_version");
      if (version != std::to_string(kSchemaVersion))
        throw std::runtime_error(path_ + ": not a dasnet sweep ledger of schema version " + std::to_string(kSchemaVersion));
      trial_columns_ = trial_columns(has_column(db_, path_, "trials", "owner_started"));
      return;
    }
    // journal_mode answers with the mode in force; WAL can be refused (e.g. no shared memory).
    Statement journal(db_, path_, mode == JournalMode::wal ? "PRAGMA journal_mode=WAL" : "PRAGMA journal_mode=DELETE");
    if (journal.step() && mode == JournalMode::wal && journal.text(0) != "wal")
      throw std::runtime_error(path_ + ": SQLite refused WAL mode (journal_mode is " + journal.text(0) +
                               "); use --journal delete on file systems without shared memory");
    // FULL: a committed trial survives power loss too, not only a killed process.
    exec("PRAGMA synchronous=FULL");
    exec("PRAGMA foreign_keys=ON");
    exec(kSchema);
    add_missing_columns();
    trial_columns_ = trial_columns(true);
    auto version = meta("schema_version");
    if (!version) set_meta("schema_version", std::to_string(kSchemaVersion));
    else if (*version != std::to_string(kSchemaVersion))
      throw std::runtime_error(path_ + ": ledger schema version " + *version + ", this dasnet reads " +
                               std::to_string(kSchemaVersion));
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

Ledger::~Ledger() { sqlite3_close(db_); }

// Ledgers written before the owner's start time was kept (same schema version otherwise).
void Ledger::add_missing_columns() {
  if (!has_column(db_, path_, "trials", "owner_started")) exec("ALTER TABLE trials ADD COLUMN owner_started INTEGER");
}

void Ledger::require_lease(const TrialLease& lease) const {
  Statement s(db_, path_, "SELECT state, attempts FROM trials WHERE id = ?");
  s.bind(1, lease.trial_id);
  if (!s.step()) fail("trial " + std::to_string(lease.trial_id) + " is not in the ledger");
  const std::string state = s.text(0);
  const int attempts = int(s.integer(1));
  if (state == "running" && attempts == lease.attempt) return;
  throw TrialTakenOver(path_ + ": trial " + std::to_string(lease.trial_id) + " attempt " +
                       std::to_string(lease.attempt) + " is no longer this process's: the trial is " + state +
                       " at attempt " + std::to_string(attempts) + " (requeued or claimed again meanwhile)");
}

void Ledger::fail(const std::string& what) const { throw std::runtime_error(path_ + ": " + what); }

void Ledger::exec(const std::string& sql) const {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : sqlite3_errmsg(db_);
    sqlite3_free(error);
    fail("SQLite: " + message);
  }
}

void Ledger::set_meta(const std::string& key, const std::string& value) {
  Statement s(db_, path_, "INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  s.bind(1, key).bind(2, value).step();
}

std::optional<std::string> Ledger::meta(const std::string& key) const {
  Statement s(db_, path_, "SELECT value FROM meta WHERE key = ?");
  s.bind(1, key);
  if (s.step()) return s.text(0);
  return std::nullopt;
}

int Ledger::add_trials(const std::vector<std::string>& configs) {
  LedgerTransaction tx(db_, path_);
  Statement insert(db_, path_, "INSERT OR IGNORE INTO trials(config, created) VALUES(?, ?)");
  int added = 0;
  const double now = unix_now();
  for (const auto& c : configs) {
    insert.reset();
    insert.bind(1, c).bind(2, now).step();
    added += sqlite3_changes(db_);
  }
  tx.commit();
  return added;
}

std::vector<int64_t> Ledger::requeue_stale(double heartbeat_timeout_s) {
  LedgerTransaction tx(db_, path_);
  std::vector<int64_t> stale;
  const double now = unix_now();
  const std::string me = host_name();
  std::vector<std::string> why;
  {
    Statement s(db_, path_, "SELECT id, heartbeat, host, owner_pid, owner_started FROM trials WHERE state = 'running'");
    while (s.step()) {
      const std::string owner = s.text(2) + "." + std::to_string(s.integer(3));
      if (s.text(2) == me) {
        // A pid names a process only on its host; a stopped owner is alive and keeps its trial.
        if (owner_alive_here(s.integer(3), s.integer(4))) continue;
        why.push_back("requeued: its owner " + owner + " has exited");
      } else {
        if (now - s.real(1) <= heartbeat_timeout_s) continue;
        why.push_back("requeued: its owner " + owner + " sent no heartbeat for " +
                      std::to_string(int(now - s.real(1))) + " s");
      }
      stale.push_back(s.integer(0));
    }
  }
  for (size_t i = 0; i < stale.size(); ++i) {
    Statement u(db_, path_,
                "UPDATE trials SET state = 'waiting', owner_pid = NULL, owner_started = NULL, child_pid = NULL, "
                "message = ? WHERE id = ? AND state = 'running'");
    u.bind(1, why[i]).bind(2, stale[i]).step();
  }
  tx.commit();
  return stale;
}

int Ledger::requeue_failed(int retries) {
  Statement s(db_, path_, "UPDATE trials SET state = 'waiting' WHERE state = 'failed' AND attempts <= ?");
  s.bind(1, retries).step();
  return sqlite3_changes(db_);
}

std::optional<TrialRow> Ledger::claim(const std::string& run_dir_root) {
  return claim_for(run_dir_root, host_name(), int64_t(getpid()), process_start_ticks(getpid()));
}

std::optional<TrialRow> Ledger::claim_for(const std::string& run_dir_root, const std::string& owner_host,
                                          int64_t owner_pid, int64_t owner_started) {
  LedgerTransaction tx(db_, path_);
  int64_t id = 0;
  {
    Statement s(db_, path_, "SELECT id FROM trials WHERE state = 'waiting' ORDER BY id LIMIT 1");
    if (!s.step()) return std::nullopt;
    id = s.integer(0);
  }
  const double now = unix_now();
  Statement u(db_, path_,
              "UPDATE trials SET state = 'running', attempts = attempts + 1, heartbeat = ?, started = ?, host = ?, "
              "owner_pid = ?, owner_started = ?, child_pid = NULL, message = NULL, "
              "run_dir = COALESCE(run_dir, ? || '/trial_' || printf('%05d', id)) WHERE id = ?");
  u.bind(1, now).bind(2, now).bind(3, owner_host).bind(4, owner_pid).bind(5, owner_started).bind(6, run_dir_root);
  u.bind(7, id).step();
  tx.commit();
  return trial(id);
}

void Ledger::set_child(const TrialLease& lease, int64_t child_pid) {
  LedgerTransaction tx(db_, path_);
  require_lease(lease);
  Statement s(db_, path_, "UPDATE trials SET child_pid = ?, heartbeat = ? WHERE id = ?");
  s.bind(1, child_pid).bind(2, unix_now()).bind(3, lease.trial_id).step();
  tx.commit();
}

void Ledger::heartbeat(const TrialLease& lease) {
  LedgerTransaction tx(db_, path_);
  require_lease(lease);
  Statement s(db_, path_, "UPDATE trials SET heartbeat = ? WHERE id = ?");
  s.bind(1, unix_now()).bind(2, lease.trial_id).step();
  tx.commit();
}

void Ledger::record_epoch(const TrialLease& lease, const EpochRow& epoch_row) {
  EpochRow row = epoch_row;
  row.trial_id = lease.trial_id;
  const EpochMetrics& r = row.metrics;
  LedgerTransaction tx(db_, path_);
  require_lease(lease);
  Statement s(db_, path_,
              "INSERT OR REPLACE INTO epochs(trial_id, epoch, train_loss, train_accuracy, val_loss, val_accuracy, "
              "samples_per_s, epoch_seconds, peak_memory_mb, lr, checkpoint) VALUES(?,?,?,?,?,?,?,?,?,?,?)");
  s.bind(1, row.trial_id).bind(2, r.epoch).bind(3, r.train_loss).bind(4, r.train_accuracy).bind(5, r.val_loss);
  s.bind(6, r.val_accuracy).bind(7, r.samples_per_s).bind(8, r.epoch_seconds).bind(9, r.peak_memory_mb).bind(10, r.lr);
  if (row.checkpoint.empty()) s.bind_null(11);
  else s.bind(11, row.checkpoint);
  s.step();
  Statement q(db_, path_, "INSERT OR REPLACE INTO p_usable(trial_id, epoch, reference, p) VALUES(?,?,?,?)");
  for (const auto& [name, p] : r.p_usable) {
    q.reset();
    q.bind(1, row.trial_id).bind(2, r.epoch).bind(3, name).bind(4, p).step();
  }
  Statement h(db_, path_,
              "UPDATE trials SET heartbeat = ?, epochs_done = MAX(epochs_done, ?) WHERE id = ?");
  h.bind(1, unix_now()).bind(2, r.epoch).bind(3, row.trial_id).step();
  tx.commit();
}

void Ledger::forget_epochs_after(const TrialLease& lease, int last_kept) {
  const int64_t trial_id = lease.trial_id;
  LedgerTransaction tx(db_, path_);
  require_lease(lease);
  Statement a(db_, path_, "DELETE FROM epochs WHERE trial_id = ? AND epoch > ?");
  a.bind(1, trial_id).bind(2, last_kept).step();
  Statement b(db_, path_, "DELETE FROM p_usable WHERE trial_id = ? AND epoch > ?");
  b.bind(1, trial_id).bind(2, last_kept).step();
  Statement c(db_, path_, "UPDATE trials SET epochs_done = ? WHERE id = ?");
  c.bind(1, last_kept).bind(2, trial_id).step();
  tx.commit();
}

void Ledger::set_checkpoint(const TrialLease& lease, int epoch, const std::string& path) {
  LedgerTransaction tx(db_, path_);
  require_lease(lease);
  Statement s(db_, path_, "UPDATE epochs SET checkpoint = ? WHERE trial_id = ? AND epoch = ?");
  if (path.empty()) s.bind_null(1);
  else s.bind(1, path);
  s.bind(2, lease.trial_id).bind(3, epoch).step();
  tx.commit();
}

void Ledger::finish(const TrialLease& lease, TrialState state, const std::string& message) {
  const double now = unix_now();
  LedgerTransaction tx(db_, path_);
  require_lease(lease);
  Statement s(db_, path_,
              "UPDATE trials SET state = ?, message = ?, finished = CASE WHEN ? THEN ? ELSE finished END, "
              "seconds = seconds + (? - COALESCE(started, ?)), child_pid = NULL, heartbeat = ? WHERE id = ?");
  const bool final_state = state != TrialState::waiting && state != TrialState::running;
  s.bind(1, std::string(trial_state_name(state))).bind(2, message).bind(3, int64_t(final_state)).bind(4, now);
  s.bind(5, now).bind(6, now).bind(7, now).bind(8, lease.trial_id).step();
  tx.commit();
}

StateCounts Ledger::counts() const {
  StateCounts c;
  Statement s(db_, path_, "SELECT state, COUNT(*) FROM trials GROUP BY state");
  while (s.step()) {
    int n = int(s.integer(1));
    switch (parse_trial_state(s.text(0))) {
      case TrialState::waiting: c.waiting = n; break;
      case TrialState::running: c.running = n; break;
      case TrialState::complete: c.complete = n; break;
      case TrialState::failed: c.failed = n; break;
      case TrialState::diverged: c.diverged = n; break;
      case TrialState::pruned: c.pruned = n; break;
    }
  }
  return c;
}

std::vector<TrialRow> Ledger::trials() const {
  std::vector<TrialRow> rows;
  Statement s(db_, path_, ("SELECT " + trial_columns_ + " FROM trials ORDER BY id").c_str());
  while (s.step()) rows.push_back(read_trial(s));
  return rows;
}

std::optional<TrialRow> Ledger::trial(int64_t id) const {
  Statement s(db_, path_, ("SELECT " + trial_columns_ + " FROM trials WHERE id = ?").c_str());
  s.bind(1, id);
  if (s.step()) return read_trial(s);
  return std::nullopt;
}

std::vector<EpochRow> Ledger::epochs(int64_t trial_id) const {
  std::vector<EpochRow> rows;
  std::string where = trial_id >= 0 ? " WHERE trial_id = ?" : "";
  Statement s(db_, path_,
              ("SELECT trial_id, epoch, train_loss, train_accuracy, val_loss, val_accuracy, samples_per_s, "
               "epoch_seconds, peak_memory_mb, lr, checkpoint FROM epochs" + where + " ORDER BY trial_id, epoch")
                  .c_str());
  if (trial_id >= 0) s.bind(1, trial_id);
  while (s.step()) {
    EpochRow row;
    row.trial_id = s.integer(0);
    EpochMetrics& r = row.metrics;
    r.epoch = int(s.integer(1));
    r.train_loss = s.real(2);
    r.train_accuracy = s.real(3);
    r.val_loss = s.real(4);
    r.val_accuracy = s.real(5);
    r.samples_per_s = s.real(6);
    r.epoch_seconds = s.real(7);
    r.peak_memory_mb = s.real(8);
    r.lr = s.real(9);
    row.checkpoint = s.text(10);
    rows.push_back(row);
  }
  // Attach P(usable) rows (ordered the same way).
  Statement p(db_, path_,
              ("SELECT trial_id, epoch, reference, p FROM p_usable" + where + " ORDER BY trial_id, epoch, rowid").c_str());
  if (trial_id >= 0) p.bind(1, trial_id);
  size_t i = 0;
  while (p.step()) {
    int64_t t = p.integer(0);
    int e = int(p.integer(1));
    while (i < rows.size() && (rows[i].trial_id < t || (rows[i].trial_id == t && rows[i].metrics.epoch < e))) ++i;
    if (i < rows.size() && rows[i].trial_id == t && rows[i].metrics.epoch == e) rows[i].metrics.p_usable.push_back({p.text(2), p.real(3)});
  }
  return rows;
}

std::vector<double> Ledger::val_accuracy_at(int epoch, int64_t except_trial) const {
  std::vector<double> values;
  Statement s(db_, path_, "SELECT val_accuracy FROM epochs WHERE epoch = ? AND trial_id != ?");
  s.bind(1, epoch).bind(2, except_trial);
  while (s.step()) values.push_back(s.real(0));
  return values;
}

}  // namespace dasnet
