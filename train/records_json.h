// The JSON form of the training records: the training configuration that checkpoints store
// beside the model (models/model_config_json.h) and the lines of the metrics file. Each field list
// is declared here once; the JSON keys are the member names. A missing key takes the field's
// default, so files written before a field existed still read; a key of the wrong type is an
// error naming its path (JSON_DIAGNOSTICS).
#pragma once
#include <nlohmann/json.hpp>

#include "core/usage_error.h"
#include "models/model_config_json.h"
#include "train/trainer.h"

namespace dasnet {

// Enums as their names (not NLOHMANN_JSON_SERIALIZE_ENUM: see models/model_config_json.h).
inline void to_json(nlohmann::json& j, Schedule s) { j = schedule_name(s); }
inline void from_json(const nlohmann::json& j, Schedule& s) { s = parse_schedule(j.get<std::string>()); }

inline void to_json(nlohmann::json& j, const ReferenceProbabilities& p) {
  j = nlohmann::json::object();
  for (const auto& [name, value] : p) j[name] = value;
}
inline void from_json(const nlohmann::json& j, ReferenceProbabilities& p) {
  p.clear();
  for (const auto& [name, value] : j.items()) p.push_back({name, value.get<double>()});
}

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(OptimizerConfig, lr, momentum, weight_decay, nesterov, schedule,
                                                step_size, gamma, warmup_epochs)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(EpochMetrics, epoch, epochs, lr, train_samples, train_loss,
                                                train_accuracy, val_samples, val_loss, val_accuracy, epoch_seconds,
                                                samples_per_s, peak_memory_mb, ranks, skipped_steps, bn_recalibrate,
                                                p_usable)

// TrainConfig keeps the optimizer's fields at the top level (the layout checkpoints have always
// had) and writes linear_lr_scaling as "lr_scaling": "linear" or "none". progress and
// cuda_graphs are run options, not stored.
void to_json(nlohmann::json& j, const TrainConfig& c);
void from_json(const nlohmann::json& j, TrainConfig& c);

}  // namespace dasnet
