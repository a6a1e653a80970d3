#include "sweep/sweep_runner.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "core/tensor.h"
#include "core/usage_error.h"
#include "io/checkpoint.h"
#include "io/durable_file.h"
#include "sweep/child_process.h"
#include "sweep/pruning.h"
#include "sweep/records_json.h"

namespace dasnet {

namespace {

namespace fs = std::filesystem;

std::atomic<int> g_stop_signal{0};
extern "C" void on_stop_signal(int sig) { g_stop_signal = sig; }

// A trial's checkpoints live in <run dir>/checkpoints.
std::string trial_checkpoint(const std::string& run_dir, int epoch) {
  return checkpoint_path((fs::path(run_dir) / "checkpoints").string(), epoch);
}

std::string format_number(double v) {
  std::ostringstream s;
  s.precision(10);
  s << v;
  return s.str();
}

std::string tail_of_file(const std::string& path, size_t bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  std::streamoff start = size > std::streamoff(bytes) ? size - std::streamoff(bytes) : 0;
  in.seekg(start);
  std::string text(size_t(size - start), '\0');
  in.read(text.data(), std::streamsize(text.size()));
  return text;
}

std::string last_line(const std::string& text) {
  size_t end = text.find_last_not_of("\n\r ");
  if (end == std::string::npos) return "";
  size_t start = text.rfind('\n', end);
  return text.substr(start == std::string::npos ? 0 : start + 1, end - (start == std::string::npos ? 0 : start + 1) + 1);
}

// One trial this process runs.
struct ActiveTrial {
  TrialRow row;
  TrialConfig config;
  std::unique_ptr<ChildProcess> child;
  std::string metrics_path, log_path;
  std::streamoff metrics_offset = 0;
  double last_heartbeat = 0;
  double last_metrics_line = 0;  // when its dasnet train last showed progress (or started)
  int slot = 0;
};

class Driver {
 public:
  Driver(LedgerAccess& ledger, const SweepSpec& spec, const SweepRunOptions& options)
      : ledger_(ledger), spec_(spec), options_(options) {
    binary_ = options.dasnet_binary.empty() ? fs::read_symlink("/proc/self/exe").string() : options.dasnet_binary;
    run_root_ = options.run_dir_root.empty() ? ledger.path() + ".runs" : options.run_dir_root;
    run_root_ = fs::absolute(run_root_).string();
    retries_ = options.retries >= 0 ? options.retries : spec.retries;
    progress_timeout_epochs_ =
        options.progress_timeout_epochs >= 0 ? options.progress_timeout_epochs : spec.progress_timeout_epochs;
    int threads = options.threads >= 0 ? options.threads : spec.threads;
    if (threads == 0) threads = std::max(1, int(std::thread::hardware_concurrency()) / std::max(1, options.parallel));
    threads_ = threads;
    interactive_ = isatty(STDERR_FILENO);
  }

  SweepRunSummary run() {
    g_stop_signal = 0;
    struct sigaction action {}, old_int{}, old_term{};
    action.sa_handler = on_stop_signal;
    sigaction(SIGINT, &action, &old_int);
    sigaction(SIGTERM, &action, &old_term);
    fs::create_directories(run_root_);
    ledger_.requeue_stale(spec_.heartbeat_timeout_s);
    ledger_.requeue_failed(retries_);
    double last_requeue = unix_now();
    SweepRunSummary summary;
    while (true) {
      if (g_stop_signal) {
        stop_all("driver stopped by signal " + std::to_string(int(g_stop_signal)));
        summary.interrupted = true;
        break;
      }
      if (unix_now() - last_requeue > std::min(5.0, spec_.heartbeat_timeout_s / 4)) {
        ledger_.requeue_stale(spec_.heartbeat_timeout_s);
        last_requeue = unix_now();
      }
      while (int(active_.size()) < options_.parallel) {
        auto row = ledger_.claim(run_root_);
        if (!row) break;
        try {
          start(*row);
        } catch (const TrialTakenOver& e) {
          std::fprintf(stderr, "\ndasnet sweep: trial %lld: %s\n", static_cast<long long>(row->id), e.what());
        }
        ++summary.attempts_started;
      }
      if (active_.empty()) break;
      for (size_t i = 0; i < active_.size();) {
        bool ended = true;
        try {
          ended = service(*active_[i]);
        } catch (const TrialTakenOver& e) {
          report_taken_over(*active_[i], e);
        }
        if (ended) active_.erase(active_.begin() + long(i));
        else ++i;
      }
      show_progress(false);
      std::this_thread::sleep_for(std::chrono::duration<double>(options_.poll_interval_s));
    }
    show_progress(true);
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGTERM, &old_term, nullptr);
    summary.counts = ledger_.counts();
    pruning_savings(ledger_, &summary.epochs_planned, &summary.epochs_pruned);
    return summary;
  }

 private:
  void start(const TrialRow& row) {
    auto t = std::make_unique<ActiveTrial>();
    t->row = row;
    t->config = TrialConfig::from_json(row.config);
    const std::string& dir = row.run_dir;
    fs::create_directories(dir);
    remove_stale_temporaries(dir);  // its checkpoints folder is the trial's `dasnet train`'s to clean
    t->metrics_path = (fs::path(dir) / "metrics.jsonl").string();
    t->log_path = (fs::path(dir) / "train.log").string();
    // Epochs a previous attempt finished while no driver was watching (it was killed) count.
    ingest(*t);
    auto done = ledger_.epochs(row.id);
    if (int(done.size()) >= t->config.epochs &&
        (!spec_.checkpoints || checkpoint_is_readable(trial_checkpoint(dir, t->config.epochs)))) {
      ledger_.finish(row.lease(), TrialState::complete, "completed before its driver stopped");
      return;
    }
    // Continue from the last checkpoint the ledger has the epoch of and that loads (a node lost
    // during a write may have left an unreadable one); otherwise start afresh.
    int resume_epoch = 0;
    if (spec_.checkpoints) {
      const auto epochs = ledger_.epochs(row.id);
      for (auto e = epochs.rbegin(); e != epochs.rend() && resume_epoch == 0; ++e)
        if (e->metrics.epoch < t->config.epochs && checkpoint_is_readable(trial_checkpoint(dir, e->metrics.epoch)))
          resume_epoch = e->metrics.epoch;
    }
    ledger_.forget_epochs_after(row.lease(), resume_epoch);
    keep_metrics_through(t->metrics_path, resume_epoch);
    t->metrics_offset = fs::exists(t->metrics_path) ? std::streamoff(fs::file_size(t->metrics_path)) : 0;
    if (resume_epoch == 0) fs::remove_all(fs::path(dir) / "checkpoints");
    {
      std::ofstream log(t->log_path, std::ios::app);
      log << "=== attempt " << row.attempts << " on " << host_name() << " (driver pid " << getpid() << ")"
          << (resume_epoch ? ", resuming after epoch " + std::to_string(resume_epoch) : std::string()) << "\n";
    }
    auto argv = trial_command(spec_, t->config, binary_, dir, threads_,
                              resume_epoch ? trial_checkpoint(dir, resume_epoch) : "");
    t->slot = free_slot();
    if (options_.gpus > 0 && t->config.processor == "gpu")
      setenv("CUDA_VISIBLE_DEVICES", std::to_string(t->slot % options_.gpus).c_str(), 1);
    try {
      t->child = std::make_unique<ChildProcess>(argv, t->log_path);
    } catch (const std::exception& e) {
      ledger_.finish(row.lease(), TrialState::failed, e.what());
      return;
    }
    ledger_.set_child(row.lease(), t->child->pid());
    t->last_heartbeat = t->last_metrics_line = unix_now();
    active_.push_back(std::move(t));
  }

  int free_slot() const {
    for (int s = 0;; ++s) {
      bool used = false;
      for (const auto& a : active_) used |= a->slot == s;
      if (!used) return s;
    }
  }

  // Rewrites the metrics file with the epochs up to `last` (a restarted attempt appends again).
  static void keep_metrics_through(const std::string& path, int last) {
    if (!fs::exists(path)) return;
    std::ifstream in(path);
    std::string line, kept;
    while (std::getline(in, line)) {
      try {
        if (!line.empty() && nlohmann::json::parse(line).at("epoch").get<int>() <= last) kept += line + "\n";
      } catch (const std::exception&) {
      }
    }
    in.close();
    write_file_atomically(path, [&](const std::string& tmp) {
      std::ofstream out(tmp, std::ios::trunc);
      out << kept;
      out.close();
      if (!out) throw std::runtime_error(tmp + ": cannot write");
    });
  }

  // Reads complete new lines of the metrics file into the ledger; returns false if a rung prunes.
  bool ingest(ActiveTrial& t) {
    std::ifstream in(t.metrics_path, std::ios::binary);
    if (!in) return true;
    in.seekg(t.metrics_offset);
    std::string chunk((std::istreambuf_iterator<char>(in)), {});
    size_t end = chunk.rfind('\n');
    if (end == std::string::npos) return true;
    t.metrics_offset += std::streamoff(end + 1);
    std::istringstream lines(chunk.substr(0, end + 1));
    std::string line;
    bool keep_running = true;
    while (std::getline(lines, line)) {
      if (line.empty()) continue;
      EpochRow r;
      try {
        auto j = nlohmann::json::parse(line);
        if (!j.contains("epoch")) throw std::runtime_error("no \"epoch\" field");
        r.trial_id = t.row.id;
        r.metrics = j.get<EpochMetrics>();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "\ndasnet sweep: %s: skipping a malformed metrics line (%s)\n", t.metrics_path.c_str(),
                     e.what());
        continue;
      }
      if (spec_.checkpoints) r.checkpoint = trial_checkpoint(t.row.run_dir, r.metrics.epoch);
      ledger_.record_epoch(t.row.lease(), r);
      t.last_heartbeat = t.last_metrics_line = unix_now();
      if (keep_running && t.child && r.metrics.epoch < t.config.epochs && is_rung(spec_.early_stopping, r.metrics.epoch)) {
        auto d = decide_pruning(spec_.early_stopping, r.metrics.epoch, r.metrics.val_accuracy,
                                ledger_.val_accuracy_at(r.metrics.epoch, t.row.id));
        if (d.prune) {
          t.child->kill_now();
          drop_missing_checkpoints(t);
          ledger_.finish(t.row.lease(), TrialState::pruned, d.reason);
          keep_running = false;
        }
      }
    }
    return keep_running;
  }

  void drop_missing_checkpoints(const ActiveTrial& t) {
    if (!spec_.checkpoints) return;
    for (const auto& e : ledger_.epochs(t.row.id))
      if (!e.checkpoint.empty() && !fs::exists(e.checkpoint)) ledger_.set_checkpoint(t.row.lease(), e.metrics.epoch, "");
  }

  // Returns true when the trial has ended (and is recorded).
  bool service(ActiveTrial& t) {
    auto exit = t.child->poll();
    if (!ingest(t)) return true;  // pruned
    if (!exit && gave_up_on_hung(t)) return true;
    if (!exit) {
      if (unix_now() - t.last_heartbeat > 2.0) {
        ledger_.heartbeat(t.row.lease());
        t.last_heartbeat = unix_now();
      }
      return false;
    }
    drop_missing_checkpoints(t);
    const std::string log_tail = tail_of_file(t.log_path, 8192);
    auto trained = ledger_.trial(t.row.id);
    const int epochs_done = trained ? trained->epochs_done : 0;
    const bool final_model_readable =
        !spec_.checkpoints || checkpoint_is_readable(trial_checkpoint(t.row.run_dir, t.config.epochs));
    if (exit->exited && exit->code == 0 && epochs_done >= t.config.epochs && final_model_readable) {
      ledger_.finish(t.row.lease(), TrialState::complete, "");
    } else if (log_tail.find("training diverged") != std::string::npos) {
      ledger_.finish(t.row.lease(), TrialState::diverged, last_line(log_tail));
    } else {
      std::string why = exit->describe() + ": " + last_line(log_tail);
      if (exit->exited && exit->code == 0) why = "exited after " + std::to_string(epochs_done) + " epochs";
      if (exit->exited && exit->code == 0 && !final_model_readable) why = "the final checkpoint does not load";
      ledger_.finish(t.row.lease(), t.row.attempts <= retries_ ? TrialState::waiting : TrialState::failed,
                     why + " (attempt " + std::to_string(t.row.attempts) + ")");
    }
    return true;
  }

  // Seconds without a metrics line after which trial `t` counts as hung (0: never).
  double progress_limit_s(const ActiveTrial& t) const {
    if (progress_timeout_epochs_ <= 0) return 0;
    std::vector<double> seconds;
    for (const auto& e : ledger_.epochs(t.row.id)) seconds.push_back(e.metrics.epoch_seconds);
    double typical = 0;
    if (!seconds.empty()) {
      std::nth_element(seconds.begin(), seconds.begin() + long(seconds.size() / 2), seconds.end());
      typical = seconds[seconds.size() / 2];
    }
    return progress_timeout_epochs_ * std::max(typical, spec_.progress_timeout_floor_s);
  }

  // A dasnet train that deadlocked (or was stopped) holds its slot and gets heart-beaten by this
  // driver forever: past the progress limit it is killed, and the attempt ends as a failure that
  // is retried like any other.
  bool gave_up_on_hung(ActiveTrial& t) {
    const double limit = progress_limit_s(t);
    const double silent = unix_now() - t.last_metrics_line;
    if (limit <= 0 || silent <= limit) return false;
    t.child->kill_now();
    drop_missing_checkpoints(t);
    char why[200];
    std::snprintf(why, sizeof why, "no new metrics line for %.0f s (limit %.0f s: run.progress_timeout_epochs %g x the"
                  " typical epoch time); killed (attempt %d)", silent, limit, progress_timeout_epochs_, t.row.attempts);
    {
      std::ofstream log(t.log_path, std::ios::app);
      log << "=== " << why << "\n";
    }
    ledger_.finish(t.row.lease(), t.row.attempts <= retries_ ? TrialState::waiting : TrialState::failed, why);
    return true;
  }

  void stop_all(const std::string& why) {
    for (auto& t : active_) {
      t->child->kill_now();
      try {
        ingest(*t);
        drop_missing_checkpoints(*t);
        ledger_.finish(t->row.lease(), TrialState::waiting, why);
      } catch (const TrialTakenOver& e) {
        report_taken_over(*t, e);
      }
    }
    active_.clear();
  }

  // The trial was requeued and claimed again while this process held it (it was stopped, or
  // its host lost contact): the new attempt owns the run folder, so this one ends at once.
  void report_taken_over(ActiveTrial& t, const TrialTakenOver& e) {
    if (t.child) t.child->kill_now();
    std::fprintf(stderr, "\ndasnet sweep: trial %lld: %s; stopped this attempt's dasnet train\n",
                 static_cast<long long>(t.row.id), e.what());
  }

  void show_progress(bool final_line) {
    if (!options_.progress) return;
    double now = unix_now();
    if (!final_line && now - last_progress_ < (interactive_ ? 0.5 : 30.0)) return;
    last_progress_ = now;
    StateCounts c = ledger_.counts();
    std::string best = "none yet";
    for (const auto& e : best_epoch()) best = e;
    double mean = ledger_mean_seconds();
    std::string eta = "?";
    if (mean > 0) {
      double left = (c.waiting + 0.5 * c.running) * mean / std::max(1, options_.parallel);
      char text[32];
      if (left < 120) std::snprintf(text, sizeof text, "%.0f s", left);
      else if (left < 7200) std::snprintf(text, sizeof text, "%.1f min", left / 60);
      else std::snprintf(text, sizeof text, "%.1f h", left / 3600);
      eta = text;
    }
    std::fprintf(stderr, "%ssweep: %d/%d done (%d complete, %d diverged, %d pruned, %d failed), %d running, %d waiting"
                         " | best %s | ~%s left   %s",
                 interactive_ ? "\r" : "", c.complete + c.diverged + c.pruned + c.failed, c.total(), c.complete,
                 c.diverged, c.pruned, c.failed, c.running, c.waiting, best.c_str(), eta.c_str(),
                 interactive_ && !final_line ? "" : "\n");
    std::fflush(stderr);
  }

  std::vector<std::string> best_epoch() const {
    double best = -1;
    int64_t trial = 0;
    int epoch = 0;
    for (const auto& e : ledger_.epochs())
      if (e.metrics.val_accuracy > best) best = e.metrics.val_accuracy, trial = e.trial_id, epoch = e.metrics.epoch;
    if (best < 0) return {};
    char text[240];
    auto row = ledger_.trial(trial);
    std::snprintf(text, sizeof text, "val acc %.4f (trial %lld epoch %d: %s)", best, static_cast<long long>(trial),
                  epoch, row ? TrialConfig::from_json(row->config).label().c_str() : "?");
    return {text};
  }

  double ledger_mean_seconds() const {
    double sum = 0;
    int n = 0;
    for (const auto& r : ledger_.trials())
      if (r.state == TrialState::complete && r.seconds > 0) sum += r.seconds, ++n;
    return n ? sum / n : 0;
  }

  LedgerAccess& ledger_;
  const SweepSpec& spec_;
  SweepRunOptions options_;
  std::string binary_, run_root_;
  int retries_ = 1, threads_ = 1;
  double progress_timeout_epochs_ = 0;
  bool interactive_ = false;
  double last_progress_ = 0;
  std::vector<std::unique_ptr<ActiveTrial>> active_;
};

}  // namespace

std::vector<std::string> trial_command(const SweepSpec& spec, const TrialConfig& t, const std::string& binary,
                                       const std::string& run_dir, int threads, const std::string& resume_checkpoint) {
  std::vector<std::string> argv;
  if (t.ranks > 1) argv = launcher_words(spec.launcher, t.ranks);
  auto add = [&](std::initializer_list<std::string> words) { argv.insert(argv.end(), words); };
  add({binary, "train", "--no-progress"});
  add({"--backend", t.processor == "gpu" ? "cuda" : "cpu", "--threads", std::to_string(threads)});
  add({"--depth", std::to_string(t.depth), "--block", t.block});
  if (t.block == "bottleneck") add({"--bottleneck-width", std::to_string(t.bottleneck_width)});
  add({"--channels", std::to_string(t.channels), "--outputs", std::to_string(t.outputs)});
  add({"--batch-size", std::to_string(t.batch_size), "--lr", format_number(t.lr)});
  add({"--epochs", std::to_string(t.epochs), "--seed", std::to_string(t.seed)});
  const std::string data = spec.data_file_for(t);
  if (!data.empty()) {
    add({"--data", data});
  } else {
    add({"--synthetic-per-class", std::to_string(t.images_per_class), "--synthetic-seed",
         std::to_string(spec.synthetic_seed), "--image-height", std::to_string(spec.image_height), "--image-width",
         std::to_string(spec.image_width)});
  }
  if (!spec.reference.empty()) add({"--reference", spec.reference});
  add({"--metrics", (fs::path(run_dir) / "metrics.jsonl").string()});
  if (spec.checkpoints) add({"--checkpoint-dir", (fs::path(run_dir) / "checkpoints").string()});
  if (!resume_checkpoint.empty()) add({"--resume", resume_checkpoint});
  argv.insert(argv.end(), spec.extra_args.begin(), spec.extra_args.end());
  return argv;
}

void store_spec(Ledger& ledger, const std::string& spec_path) {
  std::ifstream in(spec_path);
  std::stringstream text;
  text << in.rdbuf();
  ledger.set_meta("spec_text", text.str());
  ledger.set_meta("spec_source", spec_path);
  ledger.set_meta("spec_dir", fs::absolute(fs::path(spec_path)).parent_path().string());
}

SweepSpec spec_from_ledger(const LedgerAccess& ledger) {
  auto text = ledger.meta("spec_text");
  auto dir = ledger.meta("spec_dir");
  auto source = ledger.meta("spec_source");
  if (!text || !dir)
    throw UsageError(ledger.path() + ": the ledger holds no sweep spec (create it with 'dasnet sweep run SPEC --ledger')");
  return parse_sweep_spec(*text, source.value_or("ledger spec"), *dir);
}

SweepRunSummary run_sweep(LedgerAccess& ledger, const SweepSpec& spec, const SweepRunOptions& options) {
  if (options.parallel < 1) throw UsageError("--parallel must be >= 1, got " + std::to_string(options.parallel));
  Driver driver(ledger, spec, options);
  return driver.run();
}

void pruning_savings(const LedgerAccess& ledger, long* epochs_planned, long* epochs_pruned) {
  *epochs_planned = 0;
  *epochs_pruned = 0;
  for (const auto& r : ledger.trials()) {
    int planned = TrialConfig::from_json(r.config).epochs;
    *epochs_planned += planned;
    if (r.state == TrialState::pruned) *epochs_pruned += std::max(0, planned - r.epochs_done);
  }
}

}  // namespace dasnet
