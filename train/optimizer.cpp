#include "train/optimizer.h"
#include "core/usage_error.h"

#include <cmath>

namespace dasnet {

Schedule parse_schedule(const std::string& name) {
  if (name == "constant") return Schedule::Constant;
  if (name == "step") return Schedule::Step;
  if (name == "cosine") return Schedule::Cosine;
  throw UsageError("--schedule: unknown schedule '" + name + "' (valid: constant, step, cosine)");
}

std::string schedule_name(Schedule s) {
  switch (s) {
    case Schedule::Constant: return "constant";
    case Schedule::Step: return "step";
    case Schedule::Cosine: return "cosine";
  }
  return "?";
}

void OptimizerConfig::validate() const {
  if (!(lr > 0) || !std::isfinite(lr)) throw UsageError("--lr must be a positive number, got " + std::to_string(lr));
  if (!(momentum >= 0 && momentum < 1)) throw UsageError("--momentum must be in [0, 1), got " + std::to_string(momentum));
  if (!(weight_decay >= 0)) throw UsageError("--weight-decay must be >= 0");
  if (nesterov && momentum == 0) throw UsageError("--nesterov needs a momentum > 0");
  if (step_size <= 0) throw UsageError("--step-size must be positive");
  if (!(gamma > 0)) throw UsageError("--gamma must be positive");
  if (warmup_epochs < 0) throw UsageError("--warmup-epochs must be >= 0");
}

float learning_rate(const OptimizerConfig& c, int epoch, int step_in_epoch, int steps_per_epoch, int total_epochs) {
  double lr = c.lr;
  switch (c.schedule) {
    case Schedule::Constant: break;
    case Schedule::Step: lr *= std::pow(double(c.gamma), epoch / c.step_size); break;
    case Schedule::Cosine:
      lr *= 0.5 * (1.0 + std::cos(M_PI * double(epoch) / double(std::max(1, total_epochs))));
      break;
  }
  if (epoch < c.warmup_epochs) {
    double done = double(epoch) * steps_per_epoch + step_in_epoch + 1;
    lr *= done / (double(c.warmup_epochs) * std::max(1, steps_per_epoch));
  }
  return float(lr);
}

Sgd::Sgd(Backend& backend, ParameterSet& params, const OptimizerConfig& config)
    : backend_(backend), params_(params), config_(config) {
  config_.validate();
  velocity_ = backend.allocate(params.parameter_count());
  for (const auto& slot : params.slots()) {
    bool decay = config_.weight_decay > 0 && !slot.is_batchnorm();
    if (!ranges_.empty() && ranges_.back().decay == decay && ranges_.back().offset + ranges_.back().count == slot.offset)
      ranges_.back().count += slot.count;
    else
      ranges_.push_back({slot.offset, slot.count, decay});
  }
}

void Sgd::step(float lr) {
  backend_.unscale_gradients(params_.grads(), params_.parameter_count());
  for (const auto& r : ranges_)
    backend_.sgd_update(params_.params() + r.offset, params_.grads() + r.offset, velocity_.data() + r.offset, r.count, lr,
                        config_.momentum, r.decay ? config_.weight_decay : 0.0f, config_.nesterov);
  backend_.finish_optimizer_step();
}

}  // namespace dasnet
