#include "io/reference_set.h"

#include <algorithm>
#include <stdexcept>

#include "core/rng.h"
#include "core/usage_error.h"
#include "io/das_formats.h"
#include "io/hdf5_util.h"
#include "io/synth.h"

namespace dasnet {

namespace {

using h5::Handle;
constexpr int64_t kReferenceSchemaVersion = 1;

// The same pipeline as the data sets: min-max to bytes, then byte / 255.
ReferenceImage image_from_patch(const std::string& name, const float* patch, size_t row_stride,
                                const ReferenceBuildOptions& o, const std::string& origin) {
  ReferenceImage ref;
  ref.name = name;
  ref.origin = origin;
  for (const auto& k : reference_kinds())
    if (name == k.name) {
      ref.expected_min = k.expected_min;
      ref.expected_max = k.expected_max;
    }
  ref.shape = Shape{1, image_channels(o.color), o.patch_channels, o.patch_samples};
  std::vector<uint8_t> bytes(ref.shape.per_sample());
  PatchImageStatus status = patch_to_image(patch, row_stride, o.patch_channels, o.patch_samples, o.color, bytes.data());
  if (status != PatchImageStatus::ok)
    throw std::runtime_error(origin + ": reference '" + name + "' patch is " +
                             (status == PatchImageStatus::constant ? "constant" : "not finite"));
  ref.image.resize(bytes.size());
  for (size_t i = 0; i < bytes.size(); ++i) ref.image[i] = float(bytes[i]) / 255.0f;
  return ref;
}

}  // namespace

const std::vector<ReferenceKind>& reference_kinds() {
  static const std::vector<ReferenceKind> kinds = {{"white_noise", 0.0f, 0.1f},
                                                   {"coherent_waves", 0.9f, 1.0f},
                                                   {"noncoherent_waves", 0.7f, 0.9f},
                                                   {"saturated", 0.2f, 0.3f}};
  return kinds;
}

std::vector<ReferenceImage> synthetic_reference_set(const ReferenceBuildOptions& o) {
  if (o.patch_channels < 1 || o.patch_samples < 2) throw UsageError("reference patch size too small");
  SynthOptions s;
  s.channels = o.patch_channels;
  s.rate_hz = o.rate_hz;
  s.spacing_m = o.spacing_m;
  s.noise_level = o.noise_level;
  // Four seconds around the event; the patch is cut from the middle.
  const double duration = std::max(4.0, 3.0 * o.patch_samples / o.rate_hz);
  s.duration_s = duration;
  const double middle = duration / 2;
  const double centre_m = o.patch_channels * o.spacing_m / 2;
  const size_t first_sample = size_t(middle * o.rate_hz) - size_t(o.patch_samples) / 2;
  std::vector<ReferenceImage> out;
  for (size_t k = 0; k < reference_kinds().size(); ++k) {
    const std::string name = reference_kinds()[k].name;
    s.seed = derive_seed(o.seed, k);
    SynthScene scene;
    if (name == "coherent_waves")
      scene.sources.push_back(
          make_vehicle(s, derive_seed(s.seed, 1), middle, centre_m, 15, 15 * std::max(1.0, o.noise_level)));
    if (name == "noncoherent_waves")
      scene.noncoherent.push_back(make_noncoherent(s, derive_seed(s.seed, 2), -20, o.patch_channels + 20, 0, duration,
                                                   6 * std::max(1.0, o.noise_level)));
    if (name == "saturated")
      scene.sources.push_back(make_saturating_source(s, derive_seed(s.seed, 3), middle - 1, 2, centre_m, 5));
    Synthesizer synth(s, scene);
    std::vector<float> record(size_t(s.channels) * synth.total_samples()), block;
    std::vector<uint8_t> truth;
    size_t t0 = 0;
    while (size_t n = synth.next_block(block, truth)) {
      for (size_t c = 0; c < size_t(s.channels); ++c)
        std::copy(block.begin() + c * n, block.begin() + (c + 1) * n, record.begin() + c * synth.total_samples() + t0);
      t0 += n;
    }
    out.push_back(image_from_patch(name, record.data() + first_sample, synth.total_samples(), o,
                                   "synthetic " + name + " seed " + std::to_string(o.seed)));
  }
  return out;
}

ReferenceImage reference_from_record(const std::string& name, const std::string& path, size_t channel, size_t sample,
                                     const ReferenceBuildOptions& o) {
  ReadWindow window;
  window.first_channel = channel;
  window.num_channels = size_t(o.patch_channels);
  window.first_sample = sample;
  window.num_samples = size_t(o.patch_samples);
  DasRecord r = read_das(path, window);
  if (r.num_channels != window.num_channels || r.num_samples != window.num_samples)
    throw std::runtime_error(path + ": a " + std::to_string(o.patch_channels) + " x " + std::to_string(o.patch_samples) +
                             " patch at channel " + std::to_string(channel) + ", sample " + std::to_string(sample) +
                             " does not fit the record");
  return image_from_patch(name, r.data.data(), r.num_samples, o,
                          path + " channel " + std::to_string(channel) + " sample " + std::to_string(sample));
}

void save_reference_set(const std::string& path, const std::vector<ReferenceImage>& images) {
  for (const auto& ref : images)
    if (ref.image.size() != ref.shape.per_sample())
      throw std::invalid_argument("reference '" + ref.name + "': image size does not match its shape");
  h5::write_file_atomically(path, [&](hid_t file) {
    h5::set_attr(file, "format", "dasnet-reference-set");
    h5::set_attr(file, "schema_version", kReferenceSchemaVersion);
    Handle group = h5::create_group(file, "references");
    int64_t order = 0;
    for (const auto& ref : images) {
      Handle g = h5::create_group(group, ref.name);
      const std::vector<hsize_t> dims = {hsize_t(ref.shape.c), hsize_t(ref.shape.h), hsize_t(ref.shape.w)};
      Handle d = h5::create_dataset(g, "image", H5T_IEEE_F32LE, dims);
      h5::write_box(d, H5T_NATIVE_FLOAT, ref.image.data(), {0, 0, 0}, dims);
      h5::set_attr(g, "expected_min", double(ref.expected_min));
      h5::set_attr(g, "expected_max", double(ref.expected_max));
      h5::set_attr(g, "origin", ref.origin);
      h5::set_attr(g, "order", order++);
    }
  });
}

std::vector<ReferenceImage> load_reference_set(const std::string& path) {
  const h5::File file(path);
  const h5::Node root = file.group("/");
  if (!root.has_attr("format") || root.attr_string("format") != "dasnet-reference-set")
    throw std::runtime_error(path + ": not a dasnet reference set (attribute 'format')");
  if (root.attr_int64("schema_version") != kReferenceSchemaVersion)
    throw std::runtime_error(path + ": reference set schema_version " +
                             std::to_string(root.attr_int64("schema_version")) + ", this dasnet reads " +
                             std::to_string(kReferenceSchemaVersion));
  const std::vector<std::string> names = file.children("references");
  std::vector<std::pair<int64_t, ReferenceImage>> found;
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& name = names[i];
    const h5::Node g = file.group("references/" + name);
    const h5::Node d = file.dataset("references/" + name + "/image");
    auto dims = d.shape();
    if (dims.size() != 3) throw std::runtime_error(path + ": /references/" + name + "/image must be C x H x W");
    ReferenceImage ref;
    ref.name = name;
    ref.shape = Shape{1, int(dims[0]), int(dims[1]), int(dims[2])};
    ref.image.resize(ref.shape.per_sample());
    d.read_box(H5T_NATIVE_FLOAT, ref.image.data(), {0, 0, 0}, dims);
    ref.expected_min = float(g.attr_number("expected_min"));
    ref.expected_max = float(g.attr_number("expected_max"));
    if (g.has_attr("origin")) ref.origin = g.attr_string("origin");
    int64_t order = g.has_attr("order") ? g.attr_int64("order") : int64_t(i);
    found.emplace_back(order, std::move(ref));
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<ReferenceImage> out;
  for (auto& f : found) out.push_back(std::move(f.second));
  if (out.empty()) throw std::runtime_error(path + ": /references holds no images");
  return out;
}

}  // namespace dasnet
