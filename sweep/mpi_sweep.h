// Sweeps over the ranks of one mpirun/srun job. Rank 0 owns the ledger (the only process that
// opens the SQLite file, so its journal never has to work across nodes) and serves it to the
// worker ranks; each worker runs the usual driver (sweep_runner.h: claim, `dasnet train` child,
// metrics ingested per epoch, early stopping, retries) with every ledger call sent to rank 0
// as a request and answered there. Every request carries the worker's heartbeat.
//
// A worker that stops sending (dead or hung) for longer than run.heartbeat_timeout_s is declared
// lost; its running trials go back to waiting when their heartbeats expire and the other workers
// take them. Open MPI's mpirun ends the whole job when a rank dies, so in practice a dead rank
// ends the sweep; running the same command again resumes it from the ledger.
#pragma once
#include "dist/communicator.h"
#include "sweep/ledger.h"
#include "sweep/sweep_runner.h"

namespace dasnet {

struct MpiSweepSummary {
  SweepRunSummary run;
  std::vector<int> lost_ranks;  // workers that stopped reporting
};

// Rank 0: answers the workers' ledger requests until every worker has finished or is lost.
MpiSweepSummary serve_sweep_ledger(Communicator& comm, Ledger& ledger, const SweepSpec& spec,
                                   const SweepRunOptions& options);

// Ranks > 0: pulls and runs trials through rank 0 until none waits. A request that rank 0 does
// not answer within reply_timeout_s aborts the job (rank 0 died or hangs).
void run_sweep_worker_rank(Communicator& comm, SweepRunOptions options, double reply_timeout_s);

// Removes the launcher's variables (OMPI_*, PMIX_*, PMI_*, SLURM_NTASKS...) from this process's
// environment, so a trial's `dasnet train` child is a plain single process and not taken for a
// rank of this job.
void forget_launcher_environment();

}  // namespace dasnet
