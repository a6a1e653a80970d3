#include "sweep/trial_config.h"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace dasnet {

const std::vector<std::string>& trial_dimensions() {
  static const std::vector<std::string> names{"processor", "ranks",   "images_per_class", "channels",
                                              "batch_size", "depth",  "block",            "bottleneck_width",
                                              "outputs",    "epochs", "lr",               "seed"};
  return names;
}

std::string TrialConfig::to_json() const {
  nlohmann::json j{{"processor", processor}, {"ranks", ranks},   {"images_per_class", images_per_class},
                   {"channels", channels},   {"batch_size", batch_size}, {"depth", depth},
                   {"block", block},         {"bottleneck_width", bottleneck_width},
                   {"outputs", outputs},     {"epochs", epochs}, {"lr", lr},
                   {"seed", seed}};
  return j.dump();  // nlohmann::json objects keep keys sorted: canonical text
}

TrialConfig TrialConfig::from_json(const std::string& text) {
  TrialConfig c;
  std::string field;
  try {
    auto j = nlohmann::json::parse(text);
    auto get = [&](const char* name, auto& value) {
      field = name;
      if (j.contains(name)) value = j.at(name).get<std::decay_t<decltype(value)>>();
    };
    get("processor", c.processor);
    get("ranks", c.ranks);
    get("images_per_class", c.images_per_class);
    get("channels", c.channels);
    get("batch_size", c.batch_size);
    get("depth", c.depth);
    get("block", c.block);
    get("bottleneck_width", c.bottleneck_width);
    get("outputs", c.outputs);
    get("epochs", c.epochs);
    get("lr", c.lr);
    get("seed", c.seed);
  } catch (const std::exception& e) {
    throw std::runtime_error("trial config" + (field.empty() ? "" : " field '" + field + "'") + ": " + e.what());
  }
  return c;
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
