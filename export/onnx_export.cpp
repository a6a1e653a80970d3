#include "export/onnx_export.h"

#include <fstream>
#include <map>
#include <set>
#include <stdexcept>

#include "dasnet/build_config.h"
#include "export/state_dict.h"
#include "io/durable_file.h"
#include "kernels/backend_factory.h"
#include "layers/batchnorm.h"
#include "layers/conv2d.h"
#include "layers/elementwise.h"
#include "layers/linear.h"
#include "layers/pooling.h"
#include "models/resnet.h"
#if DASNET_HAVE_ONNX_EXPORT
#include "onnx/onnx.pb.h"
#endif

namespace dasnet {

#if DASNET_HAVE_ONNX_EXPORT

namespace {

constexpr int kOpset = 13;
constexpr int kIrVersion = 7;  // the oldest IR version of opset 13: any runtime since ONNX 1.8 loads it

// Builds the graph node by node; tensor i of the network is the ONNX value "t<i>" (t0 = "images").
class GraphWriter {
 public:
  GraphWriter(onnx::GraphProto& graph, const StateDict& weights) : graph_(graph) {
    for (const auto& t : weights) weights_[t.name] = &t;
  }

  static std::string value(int tensor) { return tensor == 0 ? "images" : "t" + std::to_string(tensor); }

  onnx::NodeProto& op(const std::string& type, const std::vector<std::string>& inputs, const std::string& output,
                      const std::string& name) {
    onnx::NodeProto* node = graph_.add_node();
    node->set_op_type(type);
    node->set_name(name);
    for (const auto& in : inputs) node->add_input(in);
    node->add_output(output);
    return *node;
  }

  // The checkpoint's tensor `name` as an initializer (added once); returns its name.
  const std::string& weight(const std::string& name) {
    if (added_.insert(name).second) {
      const NamedTensor& t = *weights_.at(name);
      onnx::TensorProto* init = graph_.add_initializer();
      init->set_name(name);
      init->set_data_type(onnx::TensorProto::FLOAT);
      for (size_t d : t.shape) init->add_dims(int64_t(d));
      init->set_raw_data(t.values.data(), t.values.size() * sizeof(float));  // little-endian, as ONNX stores it
    }
    return name;
  }

  void constant_int64(const std::string& name, int64_t value) {  // a scalar
    onnx::TensorProto* init = graph_.add_initializer();
    init->set_name(name);
    init->set_data_type(onnx::TensorProto::INT64);
    init->add_int64_data(value);
  }

 private:
  onnx::GraphProto& graph_;
  std::map<std::string, const NamedTensor*> weights_;
  std::set<std::string> added_;
};

onnx::AttributeProto& attribute(onnx::NodeProto& node, const std::string& name, onnx::AttributeProto::AttributeType type) {
  onnx::AttributeProto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(type);
  return *a;
}

void add_ints(onnx::NodeProto& node, const std::string& name, const std::vector<int64_t>& values) {
  auto& a = attribute(node, name, onnx::AttributeProto::INTS);
  for (int64_t v : values) a.add_ints(v);
}

void add_int(onnx::NodeProto& node, const std::string& name, int64_t value) {
  attribute(node, name, onnx::AttributeProto::INT).set_i(value);
}

// Batchnorm over the running statistics, then the fused residual add and ReLU, if any.
void write_batchnorm(GraphWriter& g, const BatchNorm& bn, const std::string& name, const std::vector<int>& in,
                     const std::string& out) {
  std::string y = bn.residual() || bn.relu() ? out + ".bn" : out;
  auto& node = g.op("BatchNormalization",
                    {GraphWriter::value(in[0]), g.weight(name + ".weight"), g.weight(name + ".bias"),
                     g.weight(name + ".running_mean"), g.weight(name + ".running_var")},
                    y, name);
  attribute(node, "epsilon", onnx::AttributeProto::FLOAT).set_f(bn.eps());
  if (bn.residual()) {
    const std::string sum = bn.relu() ? out + ".add" : out;
    g.op("Add", {y, GraphWriter::value(in[1])}, sum, name + ".add");
    y = sum;
  }
  if (bn.relu()) g.op("Relu", {y}, out, name + ".relu");
}

// Network node i as ONNX operators writing its output value.
void write_node(GraphWriter& g, const Network& net, size_t i) {
  const std::string& name = net.node_name(i);
  const Layer& layer = net.node_layer(i);
  const std::vector<int>& in = net.node_inputs(i);
  const std::string out = GraphWriter::value(net.node_output(i));
  if (auto* conv = dynamic_cast<const Conv2d*>(&layer)) {
    const ConvGeometry& c = conv->geometry();
    auto& node = g.op("Conv", {GraphWriter::value(in[0]), g.weight(name + ".weight")}, out, name);
    add_ints(node, "kernel_shape", {c.kernel, c.kernel});
    add_ints(node, "strides", {c.stride, c.stride});
    add_ints(node, "pads", {c.padding, c.padding, c.padding, c.padding});
  } else if (auto* bn = dynamic_cast<const BatchNorm*>(&layer)) {
    write_batchnorm(g, *bn, name, in, out);
  } else if (dynamic_cast<const Add*>(&layer)) {
    g.op("Add", {GraphWriter::value(in[0]), GraphWriter::value(in[1])}, out, name);
  } else if (dynamic_cast<const Relu*>(&layer)) {
    g.op("Relu", {GraphWriter::value(in[0])}, out, name);
  } else if (dynamic_cast<const GlobalAvgPool*>(&layer)) {
    g.op("GlobalAveragePool", {GraphWriter::value(in[0])}, out + ".nc11", name);
    add_int(g.op("Flatten", {out + ".nc11"}, out, name + ".flatten"), "axis", 1);
  } else if (dynamic_cast<const Linear*>(&layer)) {
    auto& node = g.op("Gemm", {GraphWriter::value(in[0]), g.weight(name + ".weight"), g.weight(name + ".bias")}, out, name);
    add_int(node, "transB", 1);
  } else {
    throw std::runtime_error("ONNX export: layer '" + name + "' (" + layer.kind() + ") has no ONNX form");
  }
}

void add_value_info(onnx::ValueInfoProto* v, const std::string& name, const std::vector<int64_t>& dims) {
  v->set_name(name);
  auto* type = v->mutable_type()->mutable_tensor_type();
  type->set_elem_type(onnx::TensorProto::FLOAT);
  auto* shape = type->mutable_shape();
  shape->add_dim()->set_dim_param("batch");
  for (int64_t d : dims) shape->add_dim()->set_dim_value(d);
}

// logits -> probabilities -> p_usable, as dasnet predict takes them (train/trainer.h).
void write_outputs(GraphWriter& g, onnx::GraphProto& graph, const ModelConfig& model, const std::string& logits) {
  g.op("Identity", {logits}, "logits", "logits");
  if (model.mode == OutputMode::Softmax)
    add_int(g.op("Softmax", {"logits"}, "probabilities", "softmax"), "axis", 1);
  else
    g.op("Sigmoid", {"logits"}, "probabilities", "sigmoid");
  g.constant_int64("usable_column", model.outputs == 1 ? 0 : 1);
  add_int(g.op("Gather", {"probabilities", "usable_column"}, "p_usable", "p_usable"), "axis", 1);
  add_value_info(graph.add_output(), "logits", {model.outputs});
  add_value_info(graph.add_output(), "probabilities", {model.outputs});
  add_value_info(graph.add_output(), "p_usable", {});
}

void add_metadata(onnx::ModelProto& model, const std::string& key, const std::string& value) {
  auto* meta = model.add_metadata_props();
  meta->set_key(key);
  meta->set_value(value);
}

}  // namespace

void export_onnx(const TrainingState& checkpoint, const std::string& path, const std::string& source) {
  const StateDict weights = checkpoint_state_dict(checkpoint);
  auto backend = make_backend(BackendKind::Reference);
  const auto net = build_resnet(checkpoint.model, *backend, 0);
  onnx::ModelProto model;
  model.set_ir_version(kIrVersion);
  model.set_producer_name("dasnet");
  model.set_producer_version(DASNET_VERSION);
  model.add_opset_import()->set_version(kOpset);  // the default domain, ai.onnx
  add_metadata(model, "model_config", checkpoint.model.to_json());
  add_metadata(model, "source_checkpoint", source);
  onnx::GraphProto& graph = *model.mutable_graph();
  graph.set_name("dasnet_resnet" + std::to_string(checkpoint.model.depth));
  const Shape in = net->sample_shape();
  add_value_info(graph.add_input(), "images", {in.c, in.h, in.w});
  GraphWriter g(graph, weights);
  for (size_t i = 0; i < net->node_count(); ++i) write_node(g, *net, i);
  write_outputs(g, graph, checkpoint.model, GraphWriter::value(net->node_output(net->node_count() - 1)));
  write_file_atomically(path, [&](const std::string& temporary) {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error(path + ": cannot open for writing");
    if (!model.SerializeToOstream(&out)) throw std::runtime_error(path + ": cannot serialize the ONNX model");
    out.close();
    if (!out) throw std::runtime_error(path + ": write failed (disk full?)");
  });
}

#else
void export_onnx(const TrainingState&, const std::string& path, const std::string&) {
  throw std::runtime_error(path + ": this dasnet was built without protobuf, so it cannot write ONNX "
                           "(Debian: libprotobuf-dev protobuf-compiler; then rebuild)");
}
#endif

}  // namespace dasnet
