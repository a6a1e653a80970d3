// The compiled part of the dasnet Python module (python/dasnet/ wraps it): thin pybind11 bindings
// of the engine's own readers, checkpoint loader, inference and the training command. Errors keep
// the engine's messages: UsageError (a bad argument) -> dasnet.UsageError (a ValueError), any
// other std::runtime_error (a bad file, a diverged run) -> dasnet.Error (a RuntimeError).
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/usage_error.h"
#include "infer/probability_map.h"
#include "io/checkpoint.h"
#include "io/das_formats.h"
#include "io/das_info_json.h"
#include "io/dataset.h"
#include "models/resnet.h"
#include "tools/commands.h"
#include "tools/run_options.h"
#include "tools/version.h"
#include "train/trainer.h"

namespace py = pybind11;

namespace dasnet {
namespace {

// A NumPy array that owns `values` (moved, not copied): the capsule frees them with the array.
template <typename T>
py::array_t<T> owning_array(std::vector<T>&& values, std::vector<py::ssize_t> shape) {
  auto* owned = new std::vector<T>(std::move(values));
  py::capsule free_when_done(owned, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>(shape, owned->data(), free_when_done);
}

// The metadata of a window, as `dasnet inspect --json` states the file's: the same keys, with
// the window's shape, start time and first distance, plus where it starts and its NaN counts.
std::string window_metadata_json(const DasInfo& file, const DasRecord& rec) {
  DasInfo info = file;
  info.num_channels = rec.num_channels;
  info.num_samples = rec.num_samples;
  if (info.start_time_known) info.start_time_ns = rec.start_time_ns;
  info.distance_start_m = rec.distance_start_m;
  info.first_locus = file.first_locus + int64_t(rec.first_channel * file.channel_step);
  nlohmann::json j = das_info_json(info);
  j["first_channel"] = rec.first_channel;
  j["first_sample"] = rec.first_sample;
  j["non_finite_samples"] = rec.non_finite_count;
  j["non_finite_channels"] = rec.non_finite_channel_count;
  return j.dump();
}

// (samples as a channels x time float32 array that owns the engine's buffer, metadata JSON).
py::tuple read_window(const std::string& path, size_t first_channel, size_t num_channels, size_t first_sample,
                      size_t num_samples, size_t record) {
  ReadWindow window;
  window.first_channel = first_channel;
  window.num_channels = num_channels;
  window.first_sample = first_sample;
  window.num_samples = num_samples;
  window.record = record;
  DasInfo info;
  DasRecord rec;
  {
    py::gil_scoped_release unlocked;
    info = inspect_das(path, record);
    rec = read_das(path, window);
  }
  const std::string metadata = window_metadata_json(info, rec);
  const py::ssize_t rows = py::ssize_t(rec.num_channels), cols = py::ssize_t(rec.num_samples);
  return py::make_tuple(owning_array(std::move(rec.data), {rows, cols}), metadata);
}

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

// A checkpoint loaded into a network on a backend, for inference.
class Model {
 public:
  Model(const std::string& checkpoint, const std::string& backend, int threads) : checkpoint_(checkpoint) {
    BackendOptions options;
    options.backend = backend;
    options.threads = threads;
    state_ = load_checkpoint(checkpoint);
    backend_ = options.create();
    net_ = build_resnet(state_.model, *backend_, 0);
    load_weights(*net_, state_);
  }

  std::string config_json() const { return state_.model.to_json(); }
  int epochs_done() const { return state_.epochs_done; }
  int outputs() const { return net_->output_count(); }

  // count x K probabilities (all_outputs) or P(usable) per image of N x C x H x W floats, in
  // batches of batch_size images.
  py::array_t<float> predict(FloatArray images, int batch_size, bool all_outputs) {
    const Shape want = net_->sample_shape();
    if (images.ndim() != 4 || images.shape(1) != want.c || images.shape(2) != want.h || images.shape(3) != want.w)
      throw UsageError("images must be N x " + std::to_string(want.c) + " x " + std::to_string(want.h) + " x " +
                       std::to_string(want.w) + " (the checkpoint's " + want.str() + "), got " + shape_text(images));
    if (batch_size < 1) throw UsageError("batch_size must be >= 1, got " + std::to_string(batch_size));
    const size_t n = size_t(images.shape(0)), per_image = size_t(want.c) * want.h * want.w;
    const size_t k = all_outputs ? size_t(outputs()) : 1;
    std::vector<float> out;
    out.reserve(n * k);
    {
      py::gil_scoped_release unlocked;
      for (size_t first = 0; first < n; first += size_t(batch_size)) {
        const int count = int(std::min(n - first, size_t(batch_size)));
        const float* batch = images.data() + first * per_image;
        const auto p = all_outputs ? predict_probabilities(*net_, state_.model.mode, batch, count)
                                   : predict_p_usable(*net_, state_.model.mode, batch, count);
        out.insert(out.end(), p.begin(), p.end());
      }
    }
    if (all_outputs) return owning_array(std::move(out), {py::ssize_t(n), py::ssize_t(k)});
    return owning_array(std::move(out), {py::ssize_t(n)});
  }

  // The usable-energy map of a DAS file, as `dasnet infer` writes it to <name>.pmap.h5.
  py::dict map_file(const std::string& path, int stride_channels, int stride_samples, int batch_size) {
    InferOptions options = infer_options(stride_channels, stride_samples, batch_size);
    ProbabilityMap map;
    {
      py::gil_scoped_release unlocked;
      map = infer_probability_map(*net_, state_.model, path, options);
    }
    return map_dict(std::move(map));
  }

  // The same map of samples in memory (distance x time) with their axes.
  py::dict map_array(FloatArray data, double sampling_rate_hz, double channel_spacing_m, double distance_start_m,
                     int64_t start_time_ns, const std::string& source, int stride_channels, int stride_samples,
                     int batch_size) {
    if (data.ndim() != 2) throw UsageError("record data must be 2-D (distance x time), got " + shape_text(data));
    RecordView view;
    view.data = data.data();
    view.num_channels = size_t(data.shape(0));
    view.num_samples = size_t(data.shape(1));
    view.row_stride = view.num_samples;
    view.sampling_rate_hz = sampling_rate_hz;
    view.channel_spacing_m = channel_spacing_m;
    view.distance_start_m = distance_start_m;
    view.start_time_ns = start_time_ns;
    view.source = source;
    view.format = "memory";
    InferOptions options = infer_options(stride_channels, stride_samples, batch_size);
    ProbabilityMap map;
    {
      py::gil_scoped_release unlocked;
      map = infer_probability_map(*net_, state_.model, view, options);
    }
    return map_dict(std::move(map));
  }

 private:
  static std::string shape_text(const py::array& a) {
    std::string s;
    for (py::ssize_t d = 0; d < a.ndim(); ++d) s += (d ? " x " : "") + std::to_string(a.shape(d));
    return a.ndim() == 0 ? "a scalar" : s;
  }

  static InferOptions infer_options(int stride_channels, int stride_samples, int batch_size) {
    if (stride_channels < 0 || stride_samples < 0)
      throw UsageError("stride must be >= 0, got " + std::to_string(stride_channels) + " x " +
                       std::to_string(stride_samples));
    InferOptions options;
    options.stride_channels = stride_channels;
    options.stride_samples = stride_samples;
    options.batch_size = batch_size;
    return options;
  }

  // The arrays and attributes of <name>.pmap.h5 (infer/probability_map.h write_probability_map_h5).
  static py::dict map_dict(ProbabilityMap map) {
    std::vector<double> distance(map.rows), time(map.cols);
    for (size_t r = 0; r < map.rows; ++r) distance[r] = map.distance_m(r);
    for (size_t c = 0; c < map.cols; ++c) time[c] = map.time_s(c);
    py::dict out;
    out["p_usable"] = owning_array(std::move(map.p), {py::ssize_t(map.rows), py::ssize_t(map.cols)});
    out["distance_m"] = owning_array(std::move(distance), {py::ssize_t(map.rows)});
    out["time_s"] = owning_array(std::move(time), {py::ssize_t(map.cols)});
    out["start_time_ns"] = map.start_time_ns;
    out["cell_channels"] = map.cell_channels;
    out["cell_samples"] = map.cell_samples;
    out["windows"] = map.windows;
    out["skipped_windows"] = map.skipped_windows;
    out["source"] = map.source;
    return out;
  }

  std::string checkpoint_;
  TrainingState state_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Network> net_;
};

// The images (N x C x H x W) and labels of a data set split, as training and `dasnet eval` see them.
py::tuple load_split(const std::string& path, const std::string& split) {
  auto set = open_dataset(path, split);
  const Shape s = set->sample_shape();
  const size_t n = set->size(), per = size_t(s.c) * s.h * s.w;
  std::vector<float> images(n * per);
  std::vector<int> labels(n);
  for (size_t i = 0; i < n; ++i) set->read(i, images.data() + i * per, labels.data() + i);
  return py::make_tuple(owning_array(std::move(images), {py::ssize_t(n), s.c, s.h, s.w}),
                        owning_array(std::move(labels), {py::ssize_t(n)}));
}

// `dasnet train ARGS...` with the command's own flags, checks and messages; `on_epoch` gets each
// epoch's metrics as JSON (the line --metrics writes), after that epoch's checkpoint is written.
void train(const std::vector<std::string>& args, const std::function<void(const std::string&)>& on_epoch) {
  CLI::App app{"dasnet"};
  app.require_subcommand(1);
  add_train_command(app, [&](const EpochMetrics& m) {
    py::gil_scoped_acquire locked;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();  // Ctrl-C stops after the epoch
    if (on_epoch) on_epoch(m.to_json());
  });
  std::vector<std::string> argv{"train"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::reverse(argv.begin(), argv.end());  // CLI11 parses a vector from its back
  py::gil_scoped_release unlocked;
  try {
    app.parse(argv);
  } catch (const CLI::ParseError& e) {
    throw UsageError(e.what());  // what main() prints after "dasnet: error: "
  }
}

}  // namespace
}  // namespace dasnet

PYBIND11_MODULE(_dasnet, m) {
  using namespace dasnet;
  m.doc() = "dasnet's engine (import dasnet, not this module)";
  // Translators run last-registered first: UsageError before the runtime_error it derives from.
  static py::exception<std::runtime_error> error(m, "Error", PyExc_RuntimeError);
  static py::exception<UsageError> usage_error(m, "UsageError", PyExc_ValueError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const UsageError& e) {
      PyErr_SetString(usage_error.ptr(), e.what());
    } catch (const std::runtime_error& e) {
      PyErr_SetString(error.ptr(), e.what());
    }
  });

  m.def("version", &version_report);
  m.def(
      "inspect_json",
      [](const std::string& path, size_t record) {
        py::gil_scoped_release unlocked;
        return das_info_json(inspect_das(path, record)).dump();
      },
      py::arg("path"), py::arg("record") = 0);
  m.def("read", &read_window, py::arg("path"), py::arg("first_channel"), py::arg("num_channels"),
        py::arg("first_sample"), py::arg("num_samples"), py::arg("record"));

  py::class_<Model>(m, "Model")
      .def(py::init<const std::string&, const std::string&, int>(), py::arg("checkpoint"), py::arg("backend"),
           py::arg("threads"))
      .def("config_json", &Model::config_json)
      .def_property_readonly("epochs_done", &Model::epochs_done)
      .def_property_readonly("outputs", &Model::outputs)
      .def("predict", &Model::predict, py::arg("images"), py::arg("batch_size"), py::arg("all_outputs"))
      .def("map_file", &Model::map_file, py::arg("path"), py::arg("stride_channels"), py::arg("stride_samples"),
           py::arg("batch_size"))
      .def("map_array", &Model::map_array, py::arg("data"), py::arg("sampling_rate_hz"),
           py::arg("channel_spacing_m"), py::arg("distance_start_m"), py::arg("start_time_ns"), py::arg("source"),
           py::arg("stride_channels"), py::arg("stride_samples"), py::arg("batch_size"));
  m.def("load_split", &load_split, py::arg("path"), py::arg("split"));
  m.def("train", &train, py::arg("args"), py::arg("on_epoch"));
}
