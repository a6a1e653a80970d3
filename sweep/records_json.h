// The JSON form of the sweep's records: trial configurations (the ledger's identity text) and
// the rows the MPI ranks exchange (sweep/mpi_sweep.cpp). Field lists declared once, as in
// train/records_json.h.
#pragma once
#include "sweep/ledger.h"
#include "sweep/trial_config.h"
#include "train/records_json.h"

namespace dasnet {

inline void to_json(nlohmann::json& j, TrialState s) { j = trial_state_name(s); }
inline void from_json(const nlohmann::json& j, TrialState& s) { s = parse_trial_state(j.get<std::string>()); }

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(TrialConfig, processor, ranks, images_per_class, channels, batch_size,
                                                depth, block, bottleneck_width, outputs, epochs, lr, seed)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(TrialRow, id, config, state, attempts, heartbeat, created, started,
                                                finished, seconds, host, run_dir, message, owner_pid, child_pid,
                                                epochs_done, owner_started)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(TrialLease, trial_id, attempt)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(EpochRow, trial_id, metrics, checkpoint)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(StateCounts, waiting, running, complete, failed, diverged, pruned)

}  // namespace dasnet
