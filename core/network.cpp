#include "core/network.h"
#include "core/usage_error.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <climits>
#include <cstdint>
#include <stdexcept>

namespace dasnet {

namespace {
constexpr size_t kNone = SIZE_MAX;
}

Network::Network(Shape sample_shape) {
  sample_shape.n = 1;
  if (sample_shape.c <= 0 || sample_shape.h <= 0 || sample_shape.w <= 0)
    throw UsageError("input shape " + sample_shape.str() + " must be positive in every dimension");
  tensors_.push_back({sample_shape, Layout::NCHW, DType::F32, -1, {}});
}

int Network::add(const std::string& name, std::unique_ptr<Layer> layer, std::vector<int> inputs) {
  std::vector<Shape> shapes;
  for (int t : inputs) {
    if (t < 0 || t >= int(tensors_.size())) throw std::logic_error("network: bad input tensor for " + name);
    shapes.push_back(tensors_[t].shape);
  }
  Shape out = layer->output_shape(shapes);
  int id = int(tensors_.size());
  int node = int(nodes_.size());
  tensors_.push_back({out, Layout::NCHW, DType::F32, node, {}});
  for (int t : inputs) tensors_[t].consumers.push_back(node);
  const size_t first = params_.parameter_count();
  layer->declare(params_, name);
  nodes_.push_back({name, std::move(layer), std::move(inputs), id, first, params_.parameter_count() - first});
  return id;
}

void Network::build(Backend& backend, uint64_t seed) {
  backend_ = &backend;
  tensors_[0].layout = backend.activation_layout(tensors_[0].shape.c);
  tensors_[0].dtype = backend.activation_dtype();
  for (auto& node : nodes_) {
    tensors_[node.output].layout = node.layer->output_layout(backend, tensors_[node.output].shape);
    tensors_[node.output].dtype = node.layer->output_dtype(backend);
    for (int t : node.inputs)
      if (tensors_[t].dtype != node.layer->input_dtype(backend))
        throw std::logic_error("network: " + node.name + " (" + node.layer->kind() + ") takes " +
                               dtype_name(node.layer->input_dtype(backend)) + " inputs but is fed " +
                               dtype_name(tensors_[t].dtype));
    node.layer->bind(backend, input_shapes(node, 1));
  }
  params_.allocate(backend);
  std::vector<float> host(params_.parameter_count(), 0.0f);
  Rng rng(seed);
  for (auto& node : nodes_) node.layer->initialize(rng, params_, host);
  backend.copy_from_host(params_.params(), host.data(), host.size());
}

std::vector<Shape> Network::input_shapes(const Node& node, int n) const {
  std::vector<Shape> shapes;
  for (int t : node.inputs) {
    Shape s = tensors_[t].shape;
    s.n = n;
    shapes.push_back(s);
  }
  return shapes;
}

// make_plan's phases. Time runs over forward steps (node i), the loss, then backward steps (node i
// at 2*layers - i). Each step is split into num_tensors + 1 ticks so the rebuilds before a
// backward step happen one after another (tensor t at tick -(num_tensors - t)) and a rebuilt
// input can be dropped as soon as the next link of its chain exists. Every phase appends to one
// list of memory requests, in a fixed order, which plan_memory then places.
struct Network::PlanBuilder {
  const Network& net;
  const int batch;
  const bool training;
  const int layers, num_tensors, output, ticks;

  struct Rebuild {
    int tensor, first, last;
    size_t request = kNone;
  };
  std::vector<MemoryRequest> requests;
  std::vector<std::vector<int>> backward_reads;  // per tensor: when backward reads its value
  std::vector<Rebuild> rebuilds;
  std::vector<bool> recomputed;
  std::vector<int> last_use;
  std::vector<size_t> forward_req, grad_req, scratch_req;

  PlanBuilder(const Network& network, int batch_size, bool train)
      : net(network), batch(batch_size), training(train), layers(int(net.nodes_.size())),
        num_tensors(int(net.tensors_.size())), output(num_tensors - 1), ticks(num_tensors + 1),
        backward_reads(num_tensors), recomputed(num_tensors, false), last_use(num_tensors, 0),
        forward_req(num_tensors), grad_req(num_tensors, kNone), scratch_req(layers, kNone) {}

  int at(int step) const { return step * ticks; }
  int loss_time() const { return at(layers); }
  int backward_time(int node) const { return at(2 * layers - node); }
  int rebuild_time(int time_of_use, int t) const {  // just before the step that uses it
    return at((time_of_use + ticks - 1) / ticks) - (num_tensors - t);
  }
  size_t request(size_t floats, int first, int last) {
    requests.push_back({floats * sizeof(float), first, last});
    return requests.size() - 1;
  }
  size_t floats_of(int t) const {
    return storage_floats(net.tensors_[t].shape.per_sample() * size_t(batch), net.tensors_[t].dtype);
  }

  void find_backward_reads();
  void plan_rebuilds();
  void request_values();
  void request_gradients();
  void request_backward_scratch(Plan& plan);
  void place(Plan& plan);
};

void Network::PlanBuilder::find_backward_reads() {
  if (!training) return;
  for (int i = 0; i < layers; ++i) {
    const Node& node = net.nodes_[i];
    for (size_t j = 0; j < node.inputs.size(); ++j)
      if (node.layer->backward_reads_input(j)) backward_reads[node.inputs[j]].push_back(backward_time(i));
    if (node.layer->backward_reads_output()) backward_reads[node.output].push_back(backward_time(i));
  }
}

// Cheap layers' outputs (BN+ReLU, BN+add+ReLU) are dropped after their last forward use and
// rebuilt for backward: one copy alive over the backward steps of the layers that read it, and
// a short-lived copy wherever rebuilding a later tensor needs it as input (chains back to a
// kept convolution output), so no rebuilt copy lingers between distant uses. Visiting tensors
// from last to first settles every tensor's readers before it is visited.
void Network::PlanBuilder::plan_rebuilds() {
  std::vector<std::vector<int>> rebuild_reads(num_tensors);  // times at which a rebuild reads t
  for (int t = output - 1; training && net.recompute_ && t >= 1; --t) {
    const Node& producer = net.nodes_[net.tensors_[t].producer];
    const auto& reads = backward_reads[t];
    if (!producer.layer->can_recompute() || (reads.empty() && rebuild_reads[t].empty())) continue;
    recomputed[t] = true;
    std::vector<std::pair<int, int>> spans;
    if (!reads.empty()) {
      int first = *std::min_element(reads.begin(), reads.end());
      spans.push_back({rebuild_time(first, t), *std::max_element(reads.begin(), reads.end())});
    }
    std::sort(rebuild_reads[t].begin(), rebuild_reads[t].end());
    for (int r : rebuild_reads[t]) {
      bool covered = false;
      for (auto& [first, last] : spans) covered = covered || (first <= r && r <= last);
      if (!covered) spans.push_back({rebuild_time(r, t), r});
    }
    for (auto [first, last] : spans) {
      rebuilds.push_back({t, first, last});
      for (int u : producer.inputs) rebuild_reads[u].push_back(first);
    }
  }
  for (int t = 0; t < num_tensors; ++t)  // kept tensors stay alive for rebuilds that read them
    if (!recomputed[t]) backward_reads[t].insert(backward_reads[t].end(), rebuild_reads[t].begin(), rebuild_reads[t].end());
}

// A value lives from its producer's step to its last reader, forward or backward; rebuilt
// copies get their own requests (first, so the order of requests stays as it always was).
void Network::PlanBuilder::request_values() {
  std::vector<int> first_use(num_tensors, 0);
  for (int t = 0; t < num_tensors; ++t) {
    const TensorInfo& info = net.tensors_[t];
    first_use[t] = info.producer < 0 ? 0 : at(info.producer);
    last_use[t] = first_use[t];
    for (int c : info.consumers) last_use[t] = std::max(last_use[t], at(c));
    if (t == output) last_use[t] = loss_time();
    if (!recomputed[t])
      for (int r : backward_reads[t]) last_use[t] = std::max(last_use[t], r);
  }
  for (auto& r : rebuilds) r.request = request(floats_of(r.tensor), r.first, r.last);
  for (int t = 0; t < num_tensors; ++t) forward_req[t] = request(floats_of(t), first_use[t], last_use[t]);
}

// From the last tensor to the first, so an output's gradient exists before its inputs'. A
// gradient shares memory with the value or gradient its writer overwrites in place, if any.
void Network::PlanBuilder::request_gradients() {
  for (int t = num_tensors - 1; t >= 1; --t) {
    const int last = backward_time(net.tensors_[t].producer);
    if (t == output) {
      grad_req[t] = request(floats_of(t), loss_time(), last);
      continue;
    }
    const auto& consumers = net.tensors_[t].consumers;
    const int writer = *std::max_element(consumers.begin(), consumers.end());
    const Node& node = net.nodes_[writer];
    const size_t j = size_t(std::find(node.inputs.begin(), node.inputs.end(), t) - node.inputs.begin());
    const auto in_place = node.layer->gradient_in_place(j);
    size_t shared = kNone;
    if (in_place == Layer::GradientInPlace::OverInputValue && !recomputed[t] &&
        last_use[t] == backward_time(writer))
      shared = forward_req[t];
    else if (in_place == Layer::GradientInPlace::OverOutputGradient)
      shared = grad_req[node.output];
    // Same size and the same element type (an in-place gradient never reinterprets memory).
    const int shared_tensor = in_place == Layer::GradientInPlace::OverInputValue ? t : node.output;
    if (shared != kNone && requests[shared].bytes == floats_of(t) * sizeof(float) &&
        net.tensors_[shared_tensor].dtype == net.tensors_[t].dtype) {
      grad_req[t] = shared;
      requests[shared].last_step = std::max(requests[shared].last_step, last);
    } else {
      grad_req[t] = request(floats_of(t), backward_time(writer), last);
    }
  }
}

// The first consumer in backward order writes a gradient; later ones add to it. Each layer's
// backward temporaries depend on which of its inputs it adds to.
void Network::PlanBuilder::request_backward_scratch(Plan& plan) {
  std::vector<bool> written(num_tensors, false);
  for (int i = layers - 1; i >= 0; --i) {
    const Node& node = net.nodes_[i];
    plan.accumulate[i].assign(node.inputs.size(), false);
    for (size_t j = 0; j < node.inputs.size(); ++j) {
      int t = node.inputs[j];
      if (t == 0) continue;
      plan.accumulate[i][j] = written[t];
      if (written[t] && !node.layer->can_accumulate_gradient(j))
        throw std::logic_error("network: " + node.name + " cannot add to the gradient of its input " +
                               std::to_string(j) + ", which another layer also reads");
      written[t] = true;
    }
    size_t floats = node.layer->backward_scratch(*net.backend_, net.input_shapes(node, batch), plan.accumulate[i]);
    if (floats) scratch_req[i] = request(floats, backward_time(i), backward_time(i));
  }
}

void Network::PlanBuilder::place(Plan& plan) {
  MemoryPlan placed = plan_memory(requests);
  plan.bytes = placed.total_bytes;
  for (int t = 0; t < num_tensors; ++t) {
    plan.forward_offset[t] = placed.offsets[forward_req[t]];
    if (grad_req[t] != kNone) plan.grad_offset[t] = placed.offsets[grad_req[t]];
  }
  for (int i = 0; i < layers; ++i)
    if (scratch_req[i] != kNone) plan.scratch_offset[i] = placed.offsets[scratch_req[i]];
  // Before a node's backward: point rebuilt tensors at their copies, then rebuild them in
  // tensor order (a chain from its start).
  std::sort(rebuilds.begin(), rebuilds.end(), [](const Rebuild& a, const Rebuild& b) { return a.tensor < b.tensor; });
  for (const auto& r : rebuilds) {
    const int node = 2 * layers - (r.first + ticks - 1) / ticks;
    plan.views_before[node].push_back({r.tensor, placed.offsets[r.request]});
    plan.recompute_before[node].push_back(r.tensor);
  }
}

Network::Plan Network::make_plan(int batch, bool training) const {
  PlanBuilder builder(*this, batch, training);
  const int layers = builder.layers, num_tensors = builder.num_tensors;
  Plan plan;
  plan.batch = batch;
  plan.forward_offset.assign(num_tensors, kNone);
  plan.views_before.resize(layers);
  plan.grad_offset.assign(num_tensors, kNone);
  plan.scratch_offset.assign(layers, kNone);
  plan.accumulate.resize(layers);
  plan.recompute_before.resize(layers);

  builder.find_backward_reads();
  builder.plan_rebuilds();
  builder.request_values();
  if (training) {
    builder.request_gradients();
    builder.request_backward_scratch(plan);
  }
  builder.place(plan);
  return plan;
}

Network::Plan& Network::plan_for(int batch, bool training) {
  Plan& plan = plans_[training ? 1 : 0];
  if (plan.batch < batch) plan = make_plan(batch, training);
  return plan;
}

size_t Network::planned_bytes(int batch, bool training) { return make_plan(batch, training).bytes; }

void Network::ensure_arena(size_t bytes) {
  if (bytes <= arena_bytes_) return;
  arena_.reset();  // before the larger one: peak memory stays the new size
  arena_bytes_ = 0;
  arena_ = backend_->allocate(bytes / sizeof(float) + 16);
  arena_bytes_ = bytes;
}

Tensor Network::view(int tensor, size_t offset, int n) const {
  Tensor t;
  t.data = reinterpret_cast<float*>(reinterpret_cast<char*>(arena_.data()) + offset);
  t.shape = tensors_[tensor].shape;
  t.shape.n = n;
  t.layout = tensors_[tensor].layout;
  t.dtype = tensors_[tensor].dtype;
  return t;
}

const Tensor& Network::forward(const float* host_images, int n, bool training) {
  if (!backend_) throw std::logic_error("network used before build()");
  if (n <= 0) throw UsageError("batch of " + std::to_string(n) + " images");
  Plan& plan = plan_for(n, training);
  ensure_arena(plan.bytes);
  current_n_ = n;
  have_training_forward_ = training;

  std::vector<Tensor> values(tensors_.size());
  for (size_t t = 0; t < tensors_.size(); ++t) values[t] = view(int(t), plan.forward_offset[t], n);
  backend_->from_nchw(host_images, values[0]);
  LayerContext ctx{*backend_, params_, training, nullptr, training ? channel_reducer_ : nullptr,
                   statistics_momentum_};
  forward_seconds_.resize(nodes_.size(), 0.0);
  if (profiling_) ++profiled_forwards_;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    Node& node = nodes_[i];
    std::vector<const Tensor*> in;
    for (int t : node.inputs) in.push_back(&values[t]);
    auto start = std::chrono::steady_clock::now();
    node.layer->forward(ctx, in, values[node.output]);
    if (profiling_) forward_seconds_[i] += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  logits_ = values.back();
  return logits_;
}

Tensor& Network::logits_gradient() {
  if (!have_training_forward_) throw std::logic_error("logits_gradient() needs a training forward first");
  logits_grad_ = view(int(tensors_.size()) - 1, plans_[1].grad_offset.back(), current_n_);
  return logits_grad_;
}

void Network::backward() {
  if (!have_training_forward_) throw std::logic_error("backward() needs a training forward first");
  const Plan& plan = plans_[1];
  const int n = current_n_;
  std::vector<Tensor> values(tensors_.size()), grads(tensors_.size());
  for (size_t t = 0; t < tensors_.size(); ++t) {
    values[t] = view(int(t), plan.forward_offset[t], n);
    if (plan.grad_offset[t] != kNone) grads[t] = view(int(t), plan.grad_offset[t], n);
  }
  LayerContext ctx{*backend_, params_, true, nullptr, channel_reducer_};
  backward_seconds_.resize(nodes_.size(), 0.0);
  if (profiling_) ++profiled_backwards_;
  for (int i = int(nodes_.size()) - 1; i >= 0; --i) {
    Node& node = nodes_[i];
    auto start = std::chrono::steady_clock::now();
    for (const auto& [t, offset] : plan.views_before[i]) values[t] = view(t, offset, n);
    for (int t : plan.recompute_before[i]) {
      Node& producer = nodes_[tensors_[t].producer];
      std::vector<const Tensor*> in;
      for (int u : producer.inputs) in.push_back(&values[u]);
      producer.layer->recompute(ctx, in, values[t]);
    }
    std::vector<const Tensor*> in;
    std::vector<Tensor*> din;
    for (int t : node.inputs) {
      in.push_back(&values[t]);
      din.push_back(plan.grad_offset[t] != kNone ? &grads[t] : nullptr);
    }
    ctx.scratch = plan.scratch_offset[i] != kNone
                      ? reinterpret_cast<float*>(reinterpret_cast<char*>(arena_.data()) + plan.scratch_offset[i])
                      : nullptr;
    node.layer->backward(ctx, in, values[node.output], grads[node.output], din, plan.accumulate[i]);
    if (profiling_) backward_seconds_[i] += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (gradient_ready_ && node.param_count) gradient_ready_(node.param_offset, node.param_count);
  }
  have_training_forward_ = false;
}

}  // namespace dasnet

namespace dasnet {

CostQuery Network::cost_query(const Node& node, int batch) const {
  CostQuery q{*backend_, input_shapes(node, batch), {}, tensors_[node.output].shape, tensors_[node.output].dtype};
  q.out.n = batch;
  for (int t : node.inputs) {
    q.in_dtype.push_back(tensors_[t].dtype);
    q.needs_gradient.push_back(t != 0);
  }
  q.accumulate.assign(node.inputs.size(), false);
  return q;
}

std::vector<Network::LayerProfile> Network::layer_profile(int batch, bool training) {
  if (!backend_) throw std::logic_error("network profiled before build()");
  const Plan& plan = plan_for(batch, training);
  std::vector<LayerProfile> out;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Node& node = nodes_[i];
    LayerProfile p{node.name, node.layer->kind()};
    if (profiled_forwards_ && i < forward_seconds_.size()) p.forward_s = forward_seconds_[i] / profiled_forwards_;
    if (profiled_backwards_ && i < backward_seconds_.size()) p.backward_s = backward_seconds_[i] / profiled_backwards_;
    CostQuery q = cost_query(node, batch);
    q.training = training;
    p.forward = node.layer->forward_cost(q);
    if (training) {
      q.accumulate = plan.accumulate[i];
      p.backward = node.layer->backward_cost(q);
      for (int t : plan.recompute_before[i]) {
        const Node& producer = nodes_[tensors_[t].producer];
        CostQuery r = cost_query(producer, batch);
        r.training = false;  // a rebuild applies the saved statistics
        p.backward += producer.layer->forward_cost(r);
      }
    }
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace dasnet
