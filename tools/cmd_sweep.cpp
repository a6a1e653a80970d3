// dasnet sweep run|worker|status: hyperparameter sweeps over a SQLite ledger.
#include <cstdio>
#include <filesystem>
#include <memory>

#include "core/tensor.h"
#include "core/usage_error.h"
#include "dist/communicator.h"
#include "io/durable_file.h"
#include "io/input_path.h"
#include "sweep/ledger.h"
#include "sweep/mpi_sweep.h"
#include "sweep/slurm_script.h"
#include "sweep/sweep_runner.h"
#include "sweep/sweep_spec.h"
#include "tools/commands.h"
#include "tools/flag_checks.h"

namespace dasnet {

namespace {

struct LedgerFlags {
  std::string ledger;
  std::string journal = "wal";
  // A read-only command (status) neither creates the ledger nor chooses its journal.
  void add_to(CLI::App* app, bool read_only = false) {
    app->add_option("--ledger", ledger, read_only ? "Sweep ledger (SQLite file)" : "Sweep ledger (SQLite file; created if missing)")
        ->required();
    if (read_only) return;
    app->add_option("--journal", journal,
                    "SQLite journal: wal (one host) or delete (workers on several nodes over a network file system)")
        ->capture_default_str();
  }
  std::unique_ptr<Ledger> open() const { return std::make_unique<Ledger>(ledger, parse_journal_mode(journal)); }
};

struct RunFlags {
  SweepRunOptions options;
  bool no_progress = false;
  double reply_timeout_s = 600;
  void add_to(CLI::App* app) {
    app->add_option("--mpi-timeout", reply_timeout_s,
                    "Under mpirun/srun: seconds a worker rank waits for rank 0 (the ledger) to answer")
        ->capture_default_str()
        ->check(flag_checks::positive);
    app->add_option("--parallel,-j", options.parallel, "Trials at once (each a dasnet train process)")
        ->capture_default_str()
        ->check(flag_checks::positive);
    app->add_option("--threads", options.threads, "CPU threads per trial (default: the spec's run.threads, 0 = cores / parallel)")
        ->check(flag_checks::non_negative);
    app->add_option("--retries", options.retries,
                    "Run failed trials again up to N times (default: the spec's run.retries)")
        ->check(flag_checks::non_negative);
    app->add_option("--progress-timeout", options.progress_timeout_epochs,
                    "Kill and retry a trial that writes no metrics line for N x its typical epoch time, 0 = never "
                    "(default: the spec's run.progress_timeout_epochs)")
        ->check(flag_checks::non_negative);
    app->add_option("--gpus", options.gpus, "GPUs on this node: trial slot i gets CUDA_VISIBLE_DEVICES = i mod N")
        ->check(flag_checks::non_negative);
    app->add_option("--run-dir", options.run_dir_root, "Folder of the trials' logs, metrics and checkpoints (default LEDGER.runs)");
    app->add_flag("--no-progress", no_progress, "No live progress line");
  }
};

// Under mpirun/srun with more than one rank the sweep is spread over the ranks (sweep/mpi_sweep.h).
std::unique_ptr<Communicator> connect_if_launched() {
  if (launcher_world_size() <= 1) return nullptr;
  CommOptions options;
  options.backend = "mpi";
  options.allreduce = AllreduceChoice::Library;  // no collectives to speak of: skip the timing
  auto comm = make_communicator(options);
  if (comm->size() <= 1) return nullptr;
  return comm;
}

// Runs `body` on rank 0: an error before the workers were released (every worker finished)
// stops them all instead of leaving them waiting for a ledger that never answers.
template <class Body>
void on_coordinator(Communicator& comm, const bool& workers_released, Body body) {
  try {
    body();
  } catch (const std::exception& e) {
    if (workers_released) throw;
    comm.abort(e.what());
  }
}

void print_summary(const SweepRunSummary& s);

// Rank 0 serves the ledger until the workers are done; a lost worker ends the job with an error.
void serve_and_report(Communicator& comm, Ledger& ledger, const SweepSpec& spec, const SweepRunOptions& options,
                      bool* workers_released) {
  std::printf("sweep: %d worker ranks, rank 0 keeps the ledger\n", comm.size() - 1);
  std::fflush(stdout);
  MpiSweepSummary s = serve_sweep_ledger(comm, ledger, spec, options);
  *workers_released = s.lost_ranks.empty();
  if (!s.lost_ranks.empty()) {
    std::string ranks;
    for (int r : s.lost_ranks) ranks += (ranks.empty() ? "" : ", ") + std::to_string(r);
    const auto& c = s.run.counts;
    // A lost rank may still hang: MPI_Abort rather than wait for it in MPI_Finalize.
    const int unfinished = c.waiting + c.running;
    comm.abort("sweep: worker rank(s) " + ranks + " stopped reporting; " +
               (unfinished ? std::to_string(unfinished) +
                                 " trials not finished: run the same command again to resume from the ledger"
                           : std::string("the other ranks finished every trial")));
  }
  print_summary(s.run);
}

void print_summary(const SweepRunSummary& s) {
  const auto& c = s.counts;
  std::printf("sweep: %d trials: %d complete, %d diverged, %d pruned, %d failed, %d running elsewhere, %d waiting\n",
              c.total(), c.complete, c.diverged, c.pruned, c.failed, c.running, c.waiting);
  if (s.epochs_pruned > 0)
    std::printf("early stopping saved %ld of %ld planned epochs (%.1f%%)\n", s.epochs_pruned, s.epochs_planned,
                100.0 * double(s.epochs_pruned) / double(std::max(1L, s.epochs_planned)));
  if (s.interrupted) throw std::runtime_error("sweep interrupted: run the same command again to resume");
  if (c.failed > 0)
    throw std::runtime_error(std::to_string(c.failed) + " trials failed (see 'dasnet sweep status' and their train.log)");
}

// `body` on rank 0 under mpirun/srun, directly in a single process.
template <class Body>
void as_coordinator(Communicator* comm, const bool& workers_released, Body body) {
  if (comm) on_coordinator(*comm, workers_released, body);
  else body();
}

struct SweepRunArgs {
  std::string spec_path, slurm_path;
  LedgerFlags ledger;
  RunFlags run;
  SlurmOptions slurm;
  bool dry_run = false;
};

// --dry-run: every trial with the command it would run.
void print_dry_run(const SweepSpec& spec, const ExpandedTrials& expanded) {
  for (size_t i = 0; i < expanded.trials.size(); ++i) {
    std::printf("%4zu  %s\n     ", i + 1, expanded.trials[i].label().c_str());
    for (const auto& w : trial_command(spec, expanded.trials[i], "dasnet", "RUN_DIR", 0, "")) std::printf(" %s", w.c_str());
    std::printf("\n");
  }
  std::printf("%zu trials (%d combinations dropped: depth not valid for the block type)\n", expanded.trials.size(),
              expanded.dropped_invalid);
}

// Adds the spec's trials to the ledger (the ones already there stay as they are).
void add_spec_trials(Ledger& ledger, const SweepRunArgs& cmd, const SweepSpec& spec, const ExpandedTrials& expanded) {
  store_spec(ledger, cmd.spec_path);
  std::vector<std::string> configs;
  for (const auto& t : expanded.trials) configs.push_back(t.to_json());
  int added = ledger.add_trials(configs);
  std::printf("sweep '%s': %zu trials in the spec (%d new in %s)%s\n", spec.name.c_str(), expanded.trials.size(),
              added, cmd.ledger.ledger.c_str(),
              expanded.dropped_invalid ? (", " + std::to_string(expanded.dropped_invalid) +
                                          " combinations dropped: depth not valid for the block type").c_str()
                                       : "");
  std::fflush(stdout);
}

// --slurm: a job-array script of sweep workers on this ledger instead of a run.
void write_slurm(SweepRunArgs& cmd, const SweepSpec& spec) {
  cmd.slurm.parallel_per_task = cmd.run.options.parallel;
  cmd.slurm.journal = cmd.ledger.journal;
  require_output_not_input(cmd.slurm_path, {cmd.spec_path, cmd.ledger.ledger}, "--slurm");
  write_slurm_script(cmd.slurm_path, spec, cmd.ledger.ledger, std::filesystem::read_symlink("/proc/self/exe").string(),
                     cmd.slurm);
  std::printf("wrote %s: submit with sbatch %s\n", cmd.slurm_path.c_str(), cmd.slurm_path.c_str());
}

// sweep run on rank 0 (or alone): expand the spec, then list, script or run its trials.
void run_sweep_spec(SweepRunArgs& cmd, Communicator* comm, bool* workers_released) {
  SweepSpec spec = load_sweep_spec(cmd.spec_path);
  ExpandedTrials expanded = expand_trials(spec);
  if (expanded.trials.empty()) throw UsageError(cmd.spec_path + ": the space holds no valid trial");
  if (cmd.dry_run) return print_dry_run(spec, expanded);
  auto ledger = cmd.ledger.open();
  add_spec_trials(*ledger, cmd, spec, expanded);
  if (!cmd.slurm_path.empty()) return write_slurm(cmd, spec);
  cmd.run.options.progress = !cmd.run.no_progress;
  if (!comm) return print_summary(run_sweep(*ledger, spec, cmd.run.options));
  serve_and_report(*comm, *ledger, spec, cmd.run.options, workers_released);
}

void add_sweep_run_command(CLI::App* sweep) {
  auto cmd = std::make_shared<SweepRunArgs>();
  CLI::App* sub = sweep->add_subcommand("run", "Add the spec's trials to the ledger and run them (resumes a ledger)");
  sub->add_option("spec", cmd->spec_path, "Sweep spec (TOML), see sweep/examples/")->required();
  cmd->ledger.add_to(sub);
  cmd->run.add_to(sub);
  sub->add_flag("--dry-run", cmd->dry_run, "List the trials and their commands; run nothing");
  sub->add_option("--slurm", cmd->slurm_path, "Write a Slurm job-array script of sweep workers instead of running");
  sub->add_option("--slurm-tasks", cmd->slurm.tasks, "Array tasks (workers)")
      ->capture_default_str()
      ->check(flag_checks::positive);
  sub->add_option("--slurm-time", cmd->slurm.time_limit, "Time limit per task")->capture_default_str();
  sub->add_option("--slurm-partition", cmd->slurm.partition, "Partition");
  sub->add_option("--slurm-account", cmd->slurm.account, "Account");
  sub->add_option("--slurm-cpus", cmd->slurm.cpus_per_task, "CPUs per task (0: 8 per CPU trial, 4 per GPU trial)")
      ->check(flag_checks::non_negative);
  sub->callback([cmd] {
    auto comm = connect_if_launched();
    if (comm && (cmd->dry_run || !cmd->slurm_path.empty()))
      throw UsageError("--dry-run and --slurm need no mpirun/srun: run them as one process");
    if (comm && comm->rank() > 0) {
      run_sweep_worker_rank(*comm, cmd->run.options, cmd->run.reply_timeout_s);
      return;
    }
    bool workers_released = false;
    as_coordinator(comm.get(), workers_released, [&] { run_sweep_spec(*cmd, comm.get(), &workers_released); });
  });
}

void add_sweep_worker_command(CLI::App* sweep) {
  struct Worker {
    LedgerFlags ledger;
    RunFlags run;
  };
  auto cmd = std::make_shared<Worker>();
  CLI::App* sub = sweep->add_subcommand("worker", "Pull and run waiting trials of a ledger until none waits (Slurm tasks)");
  cmd->ledger.add_to(sub);
  cmd->run.add_to(sub);
  sub->callback([cmd] {
    cmd->run.options.progress = !cmd->run.no_progress;
    auto comm = connect_if_launched();
    if (comm && comm->rank() > 0) return run_sweep_worker_rank(*comm, cmd->run.options, cmd->run.reply_timeout_s);
    bool workers_released = false;
    as_coordinator(comm.get(), workers_released, [&] {
      require_input_path(cmd->ledger.ledger);  // a worker joins a sweep: it never creates a ledger
      auto ledger = cmd->ledger.open();
      SweepSpec spec = spec_from_ledger(*ledger);
      if (!comm) return print_summary(run_sweep(*ledger, spec, cmd->run.options));
      serve_and_report(*comm, *ledger, spec, cmd->run.options, &workers_released);
    });
  });
}

void add_sweep_status_command(CLI::App* sweep) {
  auto cmd = std::make_shared<LedgerFlags>();
  CLI::App* sub = sweep->add_subcommand("status", "Trials of a ledger by state, with the messages of failures");
  cmd->add_to(sub, true);
  sub->callback([cmd] {
    auto ledger = Ledger::open_read_only(cmd->ledger);
    for (const auto& t : ledger->trials())
      std::printf("%5lld  %-9s  attempts %d  epochs %3d  %7.1f s  %s%s%s\n", static_cast<long long>(t.id),
                  trial_state_name(t.state), t.attempts, t.epochs_done, t.seconds,
                  TrialConfig::from_json(t.config).label().c_str(), t.message.empty() ? "" : "  | ",
                  t.message.c_str());
    SweepRunSummary s;
    s.counts = ledger->counts();
    pruning_savings(*ledger, &s.epochs_planned, &s.epochs_pruned);
    const auto& c = s.counts;
    std::printf("%d trials: %d complete, %d diverged, %d pruned, %d failed, %d running, %d waiting\n", c.total(),
                c.complete, c.diverged, c.pruned, c.failed, c.running, c.waiting);
    if (s.epochs_pruned > 0)
      std::printf("early stopping saved %ld of %ld planned epochs\n", s.epochs_pruned, s.epochs_planned);
  });
}

}  // namespace

void add_sweep_command(CLI::App& app) {
  CLI::App* sweep = app.add_subcommand("sweep", "Hyperparameter sweeps: run, worker, status");
  sweep->require_subcommand(1);
  add_sweep_run_command(sweep);
  add_sweep_worker_command(sweep);
  add_sweep_status_command(sweep);
}

}  // namespace dasnet
