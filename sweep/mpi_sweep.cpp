#include "sweep/mpi_sweep.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <vector>

#include "sweep/records_json.h"

extern char** environ;

namespace dasnet {

namespace {

using nlohmann::json;

constexpr int kRequestTag = 7101;
constexpr int kReplyTag = 7102;

// The ledger of a worker rank: every call is a request to rank 0 and waits for its answer.
class RemoteLedger : public LedgerAccess {
 public:
  RemoteLedger(Communicator& comm, double reply_timeout_s) : comm_(comm), reply_timeout_s_(reply_timeout_s) {
    path_ = call({{"op", "hello"}}).get<std::string>();
  }

  const std::string& path() const override { return path_; }
  std::optional<std::string> meta(const std::string& key) const override {
    json r = call({{"op", "meta"}, {"key", key}});
    if (r.is_null()) return std::nullopt;
    return r.get<std::string>();
  }
  std::vector<int64_t> requeue_stale(double heartbeat_timeout_s) override {
    return call({{"op", "requeue_stale"}, {"timeout_s", heartbeat_timeout_s}}).get<std::vector<int64_t>>();
  }
  int requeue_failed(int retries) override { return call({{"op", "requeue_failed"}, {"retries", retries}}); }
  std::optional<TrialRow> claim(const std::string& run_dir_root) override {
    json r = call({{"op", "claim"},
                   {"run_dir_root", run_dir_root},
                   {"host", host_name()},
                   {"pid", int64_t(getpid())},
                   {"started", process_start_ticks(getpid())}});
    if (r.is_null()) return std::nullopt;
    return r.get<TrialRow>();
  }
  void set_child(const TrialLease& lease, int64_t child_pid) override {
    call({{"op", "set_child"}, {"lease", lease}, {"child_pid", child_pid}});
  }
  void heartbeat(const TrialLease& lease) override { call({{"op", "heartbeat"}, {"lease", lease}}); }
  void record_epoch(const TrialLease& lease, const EpochRow& row) override {
    call({{"op", "record_epoch"}, {"lease", lease}, {"row", row}});
  }
  void forget_epochs_after(const TrialLease& lease, int last_kept) override {
    call({{"op", "forget_epochs_after"}, {"lease", lease}, {"last_kept", last_kept}});
  }
  void set_checkpoint(const TrialLease& lease, int epoch, const std::string& path) override {
    call({{"op", "set_checkpoint"}, {"lease", lease}, {"epoch", epoch}, {"path", path}});
  }
  void finish(const TrialLease& lease, TrialState state, const std::string& message) override {
    call({{"op", "finish"}, {"lease", lease}, {"state", trial_state_name(state)}, {"message", message}});
  }
  StateCounts counts() const override { return call({{"op", "counts"}}).get<StateCounts>(); }
  std::vector<TrialRow> trials() const override {
    std::vector<TrialRow> rows;
    for (const auto& j : call({{"op", "trials"}})) rows.push_back(j.get<TrialRow>());
    return rows;
  }
  std::optional<TrialRow> trial(int64_t id) const override {
    json r = call({{"op", "trial"}, {"trial_id", id}});
    if (r.is_null()) return std::nullopt;
    return r.get<TrialRow>();
  }
  std::vector<EpochRow> epochs(int64_t trial_id = -1) const override {
    std::vector<EpochRow> rows;
    for (const auto& j : call({{"op", "epochs"}, {"trial_id", trial_id}})) rows.push_back(j.get<EpochRow>());
    return rows;
  }
  std::vector<double> val_accuracy_at(int epoch, int64_t except_trial) const override {
    return call({{"op", "val_accuracy_at"}, {"epoch", epoch}, {"except", except_trial}}).get<std::vector<double>>();
  }

  void say_done() { call({{"op", "done"}}); }

 private:
  json call(const json& request) const {
    comm_.send_bytes(request.dump(), 0, kRequestTag);
    std::string reply;
    if (!comm_.receive_bytes(&reply, nullptr, 0, kReplyTag, reply_timeout_s_))
      comm_.abort("sweep worker: rank 0 (the ledger) did not answer '" + request.at("op").get<std::string>() +
                  "' within " + std::to_string(int(reply_timeout_s_)) + " s: it died or hangs");
    json r = json::parse(reply);
    if (!r.at("ok").get<bool>()) {
      const std::string error = "rank 0: " + r.at("error").get<std::string>();
      if (r.value("taken_over", false)) throw TrialTakenOver(error);
      throw std::runtime_error(error);
    }
    return r.at("result");
  }

  Communicator& comm_;
  double reply_timeout_s_;
  std::string path_;
};

std::atomic<int> g_coordinator_stop{0};
extern "C" void on_coordinator_stop(int sig) { g_coordinator_stop = sig; }

class LedgerServer {
 public:
  LedgerServer(Communicator& comm, Ledger& ledger, const SweepSpec& spec, const SweepRunOptions& options)
      : comm_(comm), ledger_(ledger), spec_(spec), options_(options) {
    ledger_path_ = std::filesystem::absolute(ledger.path()).string();
  }

  MpiSweepSummary serve() {
    g_coordinator_stop = 0;
    struct sigaction action {}, old_int{}, old_term{};
    action.sa_handler = on_coordinator_stop;
    sigaction(SIGINT, &action, &old_int);
    sigaction(SIGTERM, &action, &old_term);
    const int retries = options_.retries >= 0 ? options_.retries : spec_.retries;
    ledger_.requeue_stale(spec_.heartbeat_timeout_s);
    ledger_.requeue_failed(retries);
    const int workers = comm_.size() - 1;
    std::vector<double> last_heard(size_t(comm_.size()), unix_now());
    std::vector<bool> finished(size_t(comm_.size()), false);
    finished[0] = true;
    MpiSweepSummary summary;
    int open_workers = workers;
    double last_check = unix_now(), last_progress = 0;
    const bool interactive = isatty(STDERR_FILENO);
    while (open_workers > 0) {
      std::string message;
      int source = -1;
      if (comm_.receive_bytes(&message, &source, Communicator::kAnySource, kRequestTag, 0.2)) {
        last_heard[size_t(source)] = unix_now();
        json reply;
        try {
          json request = json::parse(message);
          if (request.at("op") == "claim") ++summary.run.attempts_started;
          reply = {{"ok", true}, {"result", answer(request)}};
          if (request.at("op") == "done" && !finished[size_t(source)]) {
            finished[size_t(source)] = true;
            --open_workers;
          }
        } catch (const TrialTakenOver& e) {
          reply = {{"ok", false}, {"error", e.what()}, {"taken_over", true}};
        } catch (const std::exception& e) {
          reply = {{"ok", false}, {"error", e.what()}};
        }
        comm_.send_bytes(reply.dump(), source, kReplyTag);
      }
      const double now = unix_now();
      if (now - last_check > std::min(5.0, spec_.heartbeat_timeout_s / 4)) {
        last_check = now;
        for (int r = 1; r < comm_.size(); ++r) {
          if (finished[size_t(r)] || now - last_heard[size_t(r)] <= spec_.heartbeat_timeout_s) continue;
          std::fprintf(stderr, "\ndasnet sweep: rank %d sent nothing for %.0f s (run.heartbeat_timeout_s): it died or"
                               " hangs; its trials go back to waiting for the other ranks\n",
                       r, now - last_heard[size_t(r)]);
          finished[size_t(r)] = true;
          --open_workers;
          summary.lost_ranks.push_back(r);
        }
        ledger_.requeue_stale(spec_.heartbeat_timeout_s);
      }
      if (options_.progress && now - last_progress > (interactive ? 0.5 : 30.0)) {
        last_progress = now;
        show_progress(interactive, open_workers);
      }
    }
    if (options_.progress) show_progress(false, 0);
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGTERM, &old_term, nullptr);
    summary.run.interrupted = g_coordinator_stop != 0;
    summary.run.counts = ledger_.counts();
    pruning_savings(ledger_, &summary.run.epochs_planned, &summary.run.epochs_pruned);
    return summary;
  }

 private:
  json answer(const json& q) {
    const std::string op = q.at("op");
    // Any write about a trial shows that its worker is alive (and still holds the trial).
    if (q.contains("lease") && op != "finish") ledger_.heartbeat(q.at("lease").get<TrialLease>());
    if (op == "hello") return ledger_path_;
    if (op == "done") return nullptr;
    if (op == "meta") {
      auto v = ledger_.meta(q.at("key"));
      return v ? json(*v) : json(nullptr);
    }
    if (op == "requeue_stale") return ledger_.requeue_stale(q.at("timeout_s").get<double>());
    if (op == "requeue_failed") return ledger_.requeue_failed(q.at("retries").get<int>());
    if (op == "claim") {
      if (g_coordinator_stop) return nullptr;  // stopping: hand out no more trials
      auto row = ledger_.claim_for(q.at("run_dir_root"), q.at("host"), q.at("pid").get<int64_t>(),
                                   q.value("started", int64_t(0)));
      return row ? json(*row) : json(nullptr);
    }
    if (op == "heartbeat") return nullptr;  // done above
    const auto lease = [&] { return q.at("lease").get<TrialLease>(); };
    if (op == "set_child") return ledger_.set_child(lease(), q.at("child_pid")), nullptr;
    if (op == "record_epoch") return ledger_.record_epoch(lease(), q.at("row").get<EpochRow>()), nullptr;
    if (op == "forget_epochs_after") return ledger_.forget_epochs_after(lease(), q.at("last_kept").get<int>()), nullptr;
    if (op == "set_checkpoint")
      return ledger_.set_checkpoint(lease(), q.at("epoch").get<int>(), q.at("path")), nullptr;
    if (op == "finish") return ledger_.finish(lease(), parse_trial_state(q.at("state")), q.at("message")), nullptr;
    if (op == "counts") return json(ledger_.counts());
    if (op == "trials") {
      json rows = json::array();
      for (const auto& r : ledger_.trials()) rows.push_back(json(r));
      return rows;
    }
    if (op == "trial") {
      auto row = ledger_.trial(q.at("trial_id"));
      return row ? json(*row) : json(nullptr);
    }
    if (op == "epochs") {
      json rows = json::array();
      for (const auto& r : ledger_.epochs(q.at("trial_id"))) rows.push_back(json(r));
      return rows;
    }
    if (op == "val_accuracy_at") return ledger_.val_accuracy_at(q.at("epoch").get<int>(), q.at("except"));
    throw std::runtime_error("unknown ledger request '" + op + "'");
  }

  void show_progress(bool interactive, int open_workers) {
    StateCounts c = ledger_.counts();
    std::fprintf(stderr, "%ssweep (mpi, %d of %d worker ranks active): %d/%d done (%d complete, %d diverged, %d pruned,"
                         " %d failed), %d running, %d waiting   %s",
                 interactive ? "\r" : "", open_workers, comm_.size() - 1,
                 c.complete + c.diverged + c.pruned + c.failed, c.total(), c.complete, c.diverged, c.pruned, c.failed,
                 c.running, c.waiting, interactive && open_workers > 0 ? "" : "\n");
    std::fflush(stderr);
  }

  Communicator& comm_;
  Ledger& ledger_;
  const SweepSpec& spec_;
  SweepRunOptions options_;
  std::string ledger_path_;
};

}  // namespace

void forget_launcher_environment() {
  std::vector<std::string> names;
  for (char** e = environ; *e; ++e) {
    std::string entry(*e);
    std::string name = entry.substr(0, entry.find('='));
    for (const char* prefix : {"OMPI_", "PMIX_", "PMI_"})
      if (name.rfind(prefix, 0) == 0) names.push_back(name);
    if (name == "SLURM_NTASKS" || name == "SLURM_NPROCS" || name == "SLURM_PROCID" || name == "SLURM_LOCALID")
      names.push_back(name);
  }
  for (const auto& name : names) unsetenv(name.c_str());
}

MpiSweepSummary serve_sweep_ledger(Communicator& comm, Ledger& ledger, const SweepSpec& spec,
                                   const SweepRunOptions& options) {
  if (comm.rank() != 0) throw std::logic_error("serve_sweep_ledger runs on rank 0");
  LedgerServer server(comm, ledger, spec, options);
  return server.serve();
}

void run_sweep_worker_rank(Communicator& comm, SweepRunOptions options, double reply_timeout_s) {
  RemoteLedger ledger(comm, reply_timeout_s);
  SweepSpec spec = spec_from_ledger(ledger);
  forget_launcher_environment();
  options.progress = false;  // rank 0 shows the sweep's progress
  run_sweep(ledger, spec, options);
  ledger.say_done();
}

}  // namespace dasnet
