// The JSON form of TrainConfig (checkpoints keep it; train/records_json.h), apart from the
// training loop so that the checkpoint reader links without it (tests/fuzz/).
#include "train/records_json.h"

namespace dasnet {

void to_json(nlohmann::json& j, const TrainConfig& c) {
  j = c.optimizer;
  j["epochs"] = c.epochs;
  j["batch_size"] = c.batch_size;
  j["seed"] = c.seed;
  j["lr_scaling"] = c.linear_lr_scaling ? "linear" : "none";
  j["bn_recalibrate"] = c.bn_recalibrate;
}

void from_json(const nlohmann::json& j, TrainConfig& c) {
  const TrainConfig defaults;
  c.optimizer = j.get<OptimizerConfig>();
  c.epochs = j.value("epochs", defaults.epochs);
  c.batch_size = j.value("batch_size", defaults.batch_size);
  c.seed = j.value("seed", defaults.seed);
  const auto scaling = j.value("lr_scaling", std::string("none"));
  if (scaling != "linear" && scaling != "none")
    throw std::runtime_error("lr_scaling '" + scaling + "' is not valid (valid: linear, none)");
  c.linear_lr_scaling = scaling == "linear";
  c.bn_recalibrate = j.value("bn_recalibrate", defaults.bn_recalibrate);  // absent before 2026-12
}

std::string TrainConfig::to_json() const { return nlohmann::json(*this).dump(); }

TrainConfig TrainConfig::from_json(const std::string& text) {
  try {
    return nlohmann::json::parse(text).get<TrainConfig>();
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("training configuration is not valid: ") + e.what());
  }
}

}  // namespace dasnet
