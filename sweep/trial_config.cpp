#include "sweep/trial_config.h"

#include <cstdio>
#include <stdexcept>

#include "sweep/records_json.h"

namespace dasnet {

const std::vector<std::string>& trial_dimensions() {
  static const std::vector<std::string> names{"processor", "ranks",   "images_per_class", "channels",
                                              "batch_size", "depth",  "block",            "bottleneck_width",
                                              "outputs",    "epochs", "lr",               "seed"};
  return names;
}

std::string TrialConfig::to_json() const {
  return nlohmann::json(*this).dump();  // nlohmann::json objects keep keys sorted: canonical text
}

TrialConfig TrialConfig::from_json(const std::string& text) {
  try {
    return nlohmann::json::parse(text).get<TrialConfig>();
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("trial config: ") + e.what());  // the message names the field's path
  }
}

std::string TrialConfig::label() const {
  char text[160];
  std::snprintf(text, sizeof text, "d%d %s%s lr%g b%d n%d c%d K%d %s x%d e%d s%llu", depth, block.c_str(),
                block == "bottleneck" ? ("/" + std::to_string(bottleneck_width)).c_str() : "", lr, batch_size,
                images_per_class, channels, outputs, processor.c_str(), ranks, epochs,
                static_cast<unsigned long long>(seed));
  return text;
}

}  // namespace dasnet
