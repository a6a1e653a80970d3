// SGD with momentum as PyTorch implements it (momentum buffer starts at the first gradient,
// which equals starting from zero when dampening is 0), optional Nesterov and weight decay
// (never applied to batchnorm parameters), over the flat parameter buffer; and the learning-rate
// schedules: constant (the study's), step, cosine, each with optional linear warm-up.
#pragma once
#include <string>
#include <vector>

#include "core/parameters.h"

namespace dasnet {

enum class Schedule { Constant, Step, Cosine };
Schedule parse_schedule(const std::string& name);
std::string schedule_name(Schedule s);

struct OptimizerConfig {
  float lr = 0.001f;
  float momentum = 0.9f;
  float weight_decay = 0.0f;
  bool nesterov = false;
  Schedule schedule = Schedule::Constant;
  int step_size = 10;       // epochs between decays (step)
  float gamma = 0.1f;       // decay factor (step)
  int warmup_epochs = 0;    // linear warm-up from lr/steps to lr over these epochs
  void validate() const;
};

// Learning rate at an iteration; epochs counted from 0, total_epochs for the cosine schedule.
float learning_rate(const OptimizerConfig& c, int epoch, int step_in_epoch, int steps_per_epoch, int total_epochs);

class Sgd {
 public:
  Sgd(Backend& backend, ParameterSet& params, const OptimizerConfig& config);
  Sgd(const Sgd&) = delete;
  Sgd& operator=(const Sgd&) = delete;
  void step(float lr);
  float* velocity() const { return velocity_.data(); }  // backend memory, parameter_count() floats

 private:
  struct Range {
    size_t offset, count;
    bool decay;
  };
  Backend& backend_;
  ParameterSet& params_;
  OptimizerConfig config_;
  Buffer velocity_;
  std::vector<Range> ranges_;  // consecutive slots with the same decay rule, merged
};

}  // namespace dasnet
