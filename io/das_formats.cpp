// Format detection and the chunked reading shared by every format; the planners that know
// each vendor's layout live in io/format_*.cpp.
#include "io/das_formats.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <fstream>
#include <memory>
#include <stdexcept>

#include "io/binary_format.h"
#include "io/das_read_plan.h"
#include "io/input_path.h"
#include "io/sample_transpose.h"

namespace dasnet {
namespace detail {

void describe_matrix(ReadPlan& plan, const h5::Node& data, int time_axis) {
  if (!data.numeric()) data.fail("expected numeric samples, found " + data.element_type());
  const auto dims = data.shape();
  if (dims.size() != 2) data.fail("expected a 2-D array, found rank " + std::to_string(dims.size()));
  if (dims[0] == 0 || dims[1] == 0) data.fail("empty data (" + std::to_string(dims[0]) + " x " +
                                               std::to_string(dims[1]) + ")");
  plan.rank = 2;
  plan.time_axis = time_axis;
  plan.info.data_path = data.name();
  plan.info.raw_type = data.element_type();
  plan.info.num_samples = static_cast<size_t>(dims[time_axis]);
  plan.info.num_channels = static_cast<size_t>(dims[1 - time_axis]);
  plan.info.stored_order = time_axis == 0 ? "time x channel" : "channel x time";
  plan.info.time_axis = time_axis;
}

std::string unknown_units_for(const std::string& raw_type) {
  return raw_type.rfind("float", 0) == 0 ? "unknown" : "counts";
}

double require_positive(const h5::Node& where, const std::string& what, double value) {
  if (!std::isfinite(value) || value <= 0) where.fail(what + " must be a positive number, found " + std::to_string(value));
  return value;
}

namespace {

struct FormatEntry {
  const char* name;
  bool (*matches)(const h5::File&);
  ReadPlan (*plan)(const h5::File&);
  // Formats whose files hold several records (PRODML FBE bands) plan record k with this.
  ReadPlan (*plan_record)(const h5::File&, size_t record) = nullptr;
};

// Most specific layouts first: GDR also carries PRODML-like attributes, and Neubrex and
// Silixa H5 both name their dataset "Acoustic".
constexpr FormatEntry kFormats[] = {
    {"gdr", is_gdr, plan_gdr},
    {"prodml", is_prodml, plan_prodml, plan_prodml_record},
    {"terra15", is_terra15, plan_terra15},
    {"optodas", is_optodas, plan_optodas},
    {"febus", is_febus, plan_febus, plan_febus_record},
    {"ap_sensing", is_ap_sensing, plan_ap_sensing},
    {"neubrex", is_neubrex, plan_neubrex},
    {"silixa_h5", is_silixa_h5, plan_silixa_h5},
    {"dsi-mat", is_dsi_mat, plan_dsi_mat},
    // Formats of the field's own software (io/format_field_tools.cpp); H5Simple, the bare
    // layout, last.
    {"dasdae", is_dasdae, plan_dasdae, plan_dasdae_record},
    {"xdas", is_xdas, plan_xdas},
    {"dasvader", is_dasvader, plan_dasvader},
    {"h5simple", is_h5simple, plan_h5simple},
};

// Explains files that are not HDF5 at all better than "not HDF5".
void refuse_non_hdf5(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open (missing or unreadable file)");
  char head[128] = {};
  in.read(head, sizeof head);
  const std::streamsize got = in.gcount();
  if (got == 0) throw std::runtime_error(path + ": empty file (unknown DAS format)");
  if (got >= 10 && std::memcmp(head, "MATLAB 5.0", 10) == 0)
    throw std::runtime_error(path + ": MATLAB v5 MAT-file, not v7.3/HDF5 (unknown DAS format; "
                                    "re-save it with save -v7.3)");
}

const FormatEntry& find_format(const h5::File& file) {
  for (const FormatEntry& entry : kFormats)
    if (entry.matches(file)) return entry;
  throw std::runtime_error(file.path() + ": unknown DAS format (HDF5 file matches none of: dsi-mat, "
                                         "prodml, terra15, optodas, febus, ap_sensing, silixa_h5, neubrex, gdr, "
                                         "dasdae, xdas, dasvader, h5simple)");
}

std::unique_ptr<h5::File> open_file(const std::string& path) {
  require_input_path(path);
  h5::silence_errors();
  if (H5Fis_hdf5(path.c_str()) <= 0) refuse_non_hdf5(path);
  return std::make_unique<h5::File>(path);
}

ReadPlan make_plan(const h5::File& file, size_t record = 0) {
  const FormatEntry& entry = find_format(file);
  if (record > 0 && entry.plan_record == nullptr)
    throw std::runtime_error(file.path() + ": record " + std::to_string(record) + " requested; the file holds 1 record");
  ReadPlan plan = entry.plan_record ? entry.plan_record(file, record) : entry.plan(file);
  plan.info.format = entry.name;
  plan.info.source = file.path();
  plan.info.record_index = record;
  if (plan.info.num_channels == 0 || plan.info.num_samples == 0)
    throw std::runtime_error(file.path() + ": " + plan.info.data_path + ": empty data");
  return plan;
}

// Rows per read: one chunk's worth along time where the file is chunked (so each chunk is
// decoded once), capped so the staging buffer stays small for very wide files.
size_t rows_per_read(const std::vector<hsize_t>& chunk, int time_axis, size_t num_channels) {
  constexpr size_t kMaxStagingBytes = size_t{32} << 20;
  size_t rows = chunk.empty() ? 4096 : static_cast<size_t>(chunk[time_axis]);
  const size_t cap = std::max<size_t>(1, kMaxStagingBytes / (num_channels * sizeof(float)));
  return std::clamp<size_t>(rows, 1, cap);
}

// Opens the samples with a chunk cache that holds one row of chunks across the window, so a
// chunk split over several reads is decoded once.
h5::Handle open_samples(const h5::File& file, const ReadPlan& plan, const std::vector<hsize_t>& chunk,
                        size_t element_bytes, size_t num_channels) {
  h5::Handle access(H5Pcreate(H5P_DATASET_ACCESS));
  if (!chunk.empty()) {
    size_t chunk_bytes = element_bytes;
    for (hsize_t c : chunk) chunk_bytes *= static_cast<size_t>(std::max<hsize_t>(c, 1));
    const size_t channel_extent = static_cast<size_t>(std::max<hsize_t>(chunk.back(), 1));
    const size_t across = plan.rank == 3 || plan.time_axis == 0
                              ? (num_channels + channel_extent - 1) / channel_extent + 1
                              : (num_channels + chunk[0] - 1) / std::max<hsize_t>(chunk[0], 1) + 1;
    const size_t bytes = std::min(chunk_bytes * across, size_t{256} << 20);
    H5Pset_chunk_cache(access.get(), 10007, bytes, 1.0);
  }
  h5::Handle data(plan.data_reference ? H5Rdereference2(file.id(), H5P_DEFAULT, H5R_OBJECT, &plan.data_reference)
                                      : H5Dopen2(file.id(), plan.info.data_path.c_str(), access.get()));
  if (!data.valid()) file.fail(plan.info.data_path, "not a readable dataset");
  if (const std::string problem = h5::storage_problem(data.get()); !problem.empty())
    file.fail(plan.info.data_path, problem);
  return data;
}

// Stored element types read as they are (HDF5's own int16 -> float conversion is several times
// slower than converting during the transpose); anything else is converted by HDF5 to float.
enum class Staging { kInt16, kFloat32, kConvert };

Staging staging_for(const std::string& raw_type) {
  if (raw_type == "int16") return Staging::kInt16;
  if (raw_type == "float32") return Staging::kFloat32;
  return Staging::kConvert;
}

// Reads stored rows [row, row + rows) x channels [c0, c0 + nc) of a time-major array (for
// rank 3, of block `block`) and writes them transposed into out[c * out_stride + out_col + r].
void read_time_major_rows(const h5::File& file, const ReadPlan& plan, hid_t data, size_t block, size_t row,
                          size_t rows, size_t c0, size_t nc, std::vector<unsigned char>& staging, float* out,
                          size_t out_stride, size_t out_col) {
  std::vector<hsize_t> start, count;
  if (plan.rank == 3) {
    start = {block, row, c0};
    count = {1, rows, nc};
  } else {
    start = {row, c0};
    count = {rows, nc};
  }
  h5::Handle fspace(H5Dget_space(data));
  if (!fspace.valid() ||
      H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr) < 0)
    file.fail(plan.info.data_path, "bad selection");
  // Memory space of the same shape as the selection: with differing ranks HDF5 falls back to
  // mapping chunks element by element (several times slower).
  h5::Handle mspace(H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr));
  const Staging kind = staging_for(plan.info.raw_type);
  const hid_t mem_type = kind == Staging::kInt16 ? H5T_NATIVE_INT16 : H5T_NATIVE_FLOAT;
  staging.resize(rows * nc * (kind == Staging::kInt16 ? sizeof(int16_t) : sizeof(float)));
  if (H5Dread(data, mem_type, mspace.get(), fspace.get(), H5P_DEFAULT, staging.data()) < 0)
    file.fail(plan.info.data_path, "unreadable samples (truncated or corrupted data) at row " + std::to_string(row));
  if (kind == Staging::kInt16)
    transpose_into(reinterpret_cast<const int16_t*>(staging.data()), rows, nc, 0, nc, out, out_stride, out_col);
  else
    transpose_into(reinterpret_cast<const float*>(staging.data()), rows, nc, 0, nc, out, out_stride, out_col);
}

// Reads channels [c0, c0 + nc) x samples [t0, t0 + nt) of a channel-major matrix straight into
// the output, `rows` samples per call.
void read_channel_major(const h5::File& file, const ReadPlan& plan, hid_t data, size_t c0, size_t nc,
                        size_t t0, size_t nt, size_t rows, float* out) {
  const hsize_t mem_dims[2] = {nc, nt};
  h5::Handle mspace(H5Screate_simple(2, mem_dims, nullptr));
  h5::Handle fspace(H5Dget_space(data));
  for (size_t done = 0; done < nt; done += rows) {
    const size_t take = std::min(rows, nt - done);
    const hsize_t fstart[2] = {c0, t0 + done}, count[2] = {nc, take};
    const hsize_t mstart[2] = {0, done};
    if (H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, fstart, nullptr, count, nullptr) < 0 ||
        H5Sselect_hyperslab(mspace.get(), H5S_SELECT_SET, mstart, nullptr, count, nullptr) < 0)
      file.fail(plan.info.data_path, "bad selection");
    if (H5Dread(data, H5T_NATIVE_FLOAT, mspace.get(), fspace.get(), H5P_DEFAULT, out) < 0)
      file.fail(plan.info.data_path,
                "unreadable samples (truncated or corrupted data) at sample " + std::to_string(t0 + done));
  }
}

size_t element_bytes_of(const std::string& raw_type) {
  for (const char* bits : {"64", "32", "16", "8"})
    if (raw_type.size() > 2 && raw_type.compare(raw_type.size() - std::strlen(bits), std::string::npos, bits) == 0)
      return static_cast<size_t>(std::atoi(bits)) / 8;
  return 4;
}

}  // namespace
}  // namespace detail

// ---- non-HDF5 formats (io/binary_format.h): TDMS, SEG-Y, miniSEED, Sentek, Sintela ----
namespace detail {
namespace {

// The binary format of `path`, or nullptr for an HDF5 file; throws for a file of no known format.
const BinaryFormat* binary_format_of(const std::string& path) {
  require_input_path(path);
  h5::silence_errors();
  if (H5Fis_hdf5(path.c_str()) > 0) return nullptr;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open (missing or unreadable file)");
  std::string head(kHeadBytes, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  in.clear();  // a file shorter than the head leaves eof set, which would fail the seek
  in.seekg(0, std::ios::end);
  const uint64_t size = static_cast<uint64_t>(in.tellg());
  if (const BinaryFormat* format = find_binary_format(head, size)) return format;
  refuse_non_hdf5(path);
  throw std::runtime_error(path + ": not an HDF5 file, nor Silixa TDMS, Sintela binary, miniSEED, SEG-Y or Sentek (unknown DAS format)");
}

std::unique_ptr<BinaryRecord> open_binary(const BinaryFormat& format, const std::string& path, size_t record) {
  std::unique_ptr<BinaryRecord> opened = format.open(path, record);
  DasInfo& info = opened->info;
  info.format = format.name;
  info.source = path;
  info.record_index = record;
  if (info.num_channels == 0 || info.num_samples == 0) throw std::runtime_error(path + ": empty data");
  // Times must stay within int64 nanoseconds (years 1677-2262) for every sample.
  const double span_ns = info.num_samples * 1e9 / info.sampling_rate_hz;
  if (!(span_ns < 1e18) || std::llabs(info.start_time_ns) > 8000000000000000000LL)
    throw std::runtime_error(path + ": time axis: start " + std::to_string(info.start_time_ns) + " ns, " +
                             std::to_string(info.num_samples) + " samples at " + std::to_string(info.sampling_rate_hz) +
                             " Hz leave the representable times (corrupted file)");
  return opened;
}

}  // namespace
}  // namespace detail
// ---- end of non-HDF5 formats ----

std::string detect_das_format(const std::string& path) {
  if (const detail::BinaryFormat* binary = detail::binary_format_of(path)) return binary->name;
  auto file = detail::open_file(path);
  return detail::find_format(*file).name;
}

DasInfo inspect_das(const std::string& path, size_t record) {
  if (const detail::BinaryFormat* binary = detail::binary_format_of(path))
    return detail::open_binary(*binary, path, record)->info;
  auto file = detail::open_file(path);
  return detail::make_plan(*file, record).info;
}

namespace detail {
namespace {

// Checks `window` against the data and resolves kAll; returns {c0, nc, t0, nt}.
std::array<size_t, 4> resolve_window(const std::string& path, const DasInfo& info, const ReadWindow& window) {
  if (window.first_channel >= info.num_channels || window.first_sample >= info.num_samples)
    throw std::runtime_error(path + ": window starts outside the data (channel " +
                             std::to_string(window.first_channel) + ", sample " + std::to_string(window.first_sample) +
                             "; file has " + std::to_string(info.num_channels) + " channels x " +
                             std::to_string(info.num_samples) + " samples)");
  const size_t c0 = window.first_channel, t0 = window.first_sample;
  const size_t nc = window.num_channels == ReadWindow::kAll ? info.num_channels - c0 : window.num_channels;
  const size_t nt = window.num_samples == ReadWindow::kAll ? info.num_samples - t0 : window.num_samples;
  if (nc == 0 || nt == 0 || nc > info.num_channels - c0 || nt > info.num_samples - t0)
    throw std::runtime_error(path + ": window [" + std::to_string(c0) + "+" + std::to_string(nc) + " channels, " +
                             std::to_string(t0) + "+" + std::to_string(nt) + " samples] is empty or outside the " +
                             std::to_string(info.num_channels) + " x " + std::to_string(info.num_samples) + " data");
  constexpr size_t kMaxRecordValues = size_t{1} << 33;  // 32 GiB of float: refuse rather than thrash
  if (nc > kMaxRecordValues / nt)
    throw std::runtime_error(path + ": window of " + std::to_string(nc) + " x " + std::to_string(nt) +
                             " samples is too large to hold in memory; read it in smaller windows");
  return {c0, nc, t0, nt};
}

// The record's metadata for channels [c0, c0 + nc) x samples [t0, t0 + nt) of `info`.
DasRecord record_metadata(const DasInfo& info, size_t c0, size_t nc, size_t t0, size_t nt) {
  DasRecord rec;
  rec.num_channels = nc;
  rec.num_samples = nt;
  rec.first_channel = c0;
  rec.first_sample = t0;
  rec.sampling_rate_hz = info.sampling_rate_hz;
  rec.start_time_ns = info.start_time_ns + (info.sampling_rate_hz > 0
                                                ? static_cast<int64_t>(std::llround(t0 * 1e9 / info.sampling_rate_hz))
                                                : 0);
  rec.channel_spacing_m = info.channel_spacing_m;
  rec.distance_start_m = info.distance_start_m + c0 * info.channel_spacing_m;
  rec.gauge_length_m = info.gauge_length_m;
  rec.units = info.units;
  rec.scale_factor = info.scale_factor;
  rec.raw_type = info.raw_type;
  rec.format = info.format;
  rec.source = info.source;
  rec.channel_step = info.channel_step;
  rec.first_locus = info.first_locus + static_cast<int64_t>(c0 * info.channel_step);
  rec.distance_units = info.distance_units;
  rec.processed = info.processed;
  rec.product = info.product;
  rec.record_index = info.record_index;
  return rec;
}

// Scales the samples and counts non-finite samples and channels with no finite sample.
void scale_and_count(DasRecord& rec) {
  const float scale = static_cast<float>(rec.scale_factor);
  size_t non_finite = 0, dead_channels = 0;
  // Stored integers are finite after any finite scale: nothing to count, nothing to multiply.
  const bool integer = rec.raw_type.rfind("int", 0) == 0 || rec.raw_type.rfind("uint", 0) == 0;
  if (integer && std::isfinite(scale) && scale == 1.0f) {
    rec.non_finite_count = rec.non_finite_channel_count = 0;
    return;
  }
  const long channels = static_cast<long>(rec.num_channels);
#pragma omp parallel for schedule(static) reduction(+ : non_finite, dead_channels) if (rec.data.size() >= (1u << 16))
  for (long c = 0; c < channels; ++c) {
    float* row = rec.data.data() + c * rec.num_samples;
    size_t bad = 0;
    for (size_t t = 0; t < rec.num_samples; ++t) {
      if (scale != 1.0f) row[t] *= scale;
      bad += !std::isfinite(row[t]);
    }
    non_finite += bad;
    dead_channels += bad == rec.num_samples;
  }
  rec.non_finite_count = non_finite;
  rec.non_finite_channel_count = dead_channels;
}

// Reads the samples of `rec`'s window from the file into rec.data (unscaled).
void read_samples(const h5::File& file, const ReadPlan& plan, DasRecord& rec) {
  const DasInfo& info = plan.info;
  const size_t c0 = rec.first_channel, nc = rec.num_channels, t0 = rec.first_sample, nt = rec.num_samples;
  rec.data.resize(nc * nt);
  const h5::Node probe = plan.data_reference ? file.dataset_at_reference(plan.data_reference, info.data_path)
                                             : file.dataset(info.data_path);
  const auto chunk = probe.chunk_shape();
  const int time_axis = plan.rank == 3 ? 1 : plan.time_axis;
  const size_t rows = rows_per_read(chunk, time_axis, nc);
  h5::Handle data = open_samples(file, plan, chunk, element_bytes_of(info.raw_type), nc);

  if (plan.rank == 2 && plan.time_axis == 1) {
    read_channel_major(file, plan, data.get(), c0, nc, t0, nt, rows, rec.data.data());
    return;
  }
  std::vector<unsigned char> staging;
  for (size_t done = 0; done < nt;) {
    // Logical sample -> stored (block, row); a read never crosses a block boundary.
    const size_t t = t0 + done;
    size_t block = 0, row = t, room = nt - done;
    if (plan.rank == 3) {
      block = t / plan.block_keep;
      row = plan.block_skip + t % plan.block_keep;
      room = std::min(room, plan.block_keep - t % plan.block_keep);
    }
    const size_t take = std::min(rows, room);
    read_time_major_rows(file, plan, data.get(), block, row, take, c0, nc, staging, rec.data.data(), nt, done);
    done += take;
  }
}

// The stored element type as a native HDF5 memory type and its name; any other type is read
// (converted by HDF5) as float32.
std::pair<hid_t, const char*> stored_memory_type(const std::string& raw_type) {
  if (raw_type == "int16") return {H5T_NATIVE_INT16, "int16"};
  if (raw_type == "int32") return {H5T_NATIVE_INT32, "int32"};
  if (raw_type == "float64") return {H5T_NATIVE_DOUBLE, "float64"};
  return {H5T_NATIVE_FLOAT, "float32"};
}

// A matrix stored contiguous (no chunks, no filters, no external file) in the memory type
// itself, read over whole stored rows: the window is one byte range of the file, read by
// parallel preads straight into rec.stored. False (nothing read) where HDF5 must do the read.
bool read_contiguous_rows(const h5::File& file, hid_t data, hid_t mem_type, const std::vector<hsize_t>& start,
                          const std::vector<hsize_t>& count, DasRecord& rec) {
  h5::Handle space(H5Dget_space(data)), type(H5Dget_type(data)), create(H5Dget_create_plist(data));
  hsize_t dims[2] = {0, 0};
  if (!space.valid() || H5Sget_simple_extent_ndims(space.get()) != 2 ||
      H5Sget_simple_extent_dims(space.get(), dims, nullptr) != 2 || count[1] != dims[1])
    return false;
  if (!type.valid() || H5Tequal(type.get(), mem_type) <= 0 || !create.valid() ||
      H5Pget_layout(create.get()) != H5D_CONTIGUOUS || H5Pget_external_count(create.get()) != 0)
    return false;
  const haddr_t offset = H5Dget_offset(data);
  if (offset == HADDR_UNDEF) return false;  // not allocated: HDF5 returns the fill value
  const size_t row_bytes = static_cast<size_t>(dims[1]) * H5Tget_size(mem_type);
  BinaryFile raw(file.path());
  raw.read_at_parallel(offset + start[0] * row_bytes, rec.stored.data(), static_cast<size_t>(count[0]) * row_bytes,
                       rec.source + " samples");
  return true;
}

// Reads `rec`'s window into rec.stored in the file's type and order: a matrix in one hyperslab
// read straight into the destination, Febus blocks one H5Dread per block.
void read_stored_samples(const h5::File& file, const ReadPlan& plan, DasRecord& rec) {
  const size_t c0 = rec.first_channel, nc = rec.num_channels, t0 = rec.first_sample, nt = rec.num_samples;
  // Not a structured binding: the lambda below captures the type, and C++17 cannot capture one.
  const auto memory_type = stored_memory_type(plan.info.raw_type);
  const hid_t mem_type = memory_type.first;
  const size_t bytes = H5Tget_size(mem_type);
  rec.stored_type = memory_type.second;
  rec.stored_time_major = plan.rank == 3 || plan.time_axis == 0;
  rec.stored.resize(nc * nt * bytes);
  const h5::Node probe = plan.data_reference ? file.dataset_at_reference(plan.data_reference, plan.info.data_path)
                                             : file.dataset(plan.info.data_path);
  h5::Handle data = open_samples(file, plan, probe.chunk_shape(), bytes, nc);
  h5::Handle fspace(H5Dget_space(data.get()));
  const auto read = [&](const std::vector<hsize_t>& start, const std::vector<hsize_t>& count, void* out) {
    h5::Handle mspace(H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr));
    if (H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr) < 0)
      file.fail(plan.info.data_path, "bad selection");
    if (H5Dread(data.get(), mem_type, mspace.get(), fspace.get(), H5P_DEFAULT, out) < 0)
      file.fail(plan.info.data_path, "unreadable samples (truncated or corrupted data) at sample " +
                                         std::to_string(start[plan.rank == 3 ? 1 : 0]));
  };
  if (plan.rank == 2) {
    const std::vector<hsize_t> start = rec.stored_time_major ? std::vector<hsize_t>{t0, c0} : std::vector<hsize_t>{c0, t0};
    const std::vector<hsize_t> count = rec.stored_time_major ? std::vector<hsize_t>{nt, nc} : std::vector<hsize_t>{nc, nt};
    if (plan.data_reference == 0 && read_contiguous_rows(file, data.get(), mem_type, start, count, rec)) return;
    read(start, count, rec.stored.data());
    return;
  }
  for (size_t done = 0; done < nt;) {  // rank 3: a read never crosses a block boundary
    const size_t t = t0 + done, block = t / plan.block_keep;
    const size_t take = std::min(nt - done, plan.block_keep - t % plan.block_keep);
    read({block, plan.block_skip + t % plan.block_keep, c0}, {1, take, nc}, rec.stored.data() + done * nc * bytes);
    done += take;
  }
}

}  // namespace
}  // namespace detail

void require_raw_data(const DasInfo& info, bool allow_processed, const std::string& allow_flag) {
  if (!info.processed || allow_processed) return;
  throw std::runtime_error(info.source + ": " + info.data_path + ": a processed product (" + info.product +
                           "), not raw DAS data; it is refused here (pass " + allow_flag + " to use it anyway)");
}

namespace detail {
namespace {

// Opens `path`, resolves `window`, fills the record's metadata and hands the samples to
// `binary` (BinaryRecord&, DasRecord&) or `hdf5` (h5::File&, ReadPlan&, DasRecord&).
template <typename Binary, typename Hdf5>
DasRecord read_window(const std::string& path, const ReadWindow& window, Binary binary, Hdf5 hdf5) {
  if (const BinaryFormat* format = binary_format_of(path)) {  // non-HDF5 formats
    const std::unique_ptr<BinaryRecord> opened = open_binary(*format, path, window.record);
    const auto [c0, nc, t0, nt] = resolve_window(path, opened->info, window);
    DasRecord rec = record_metadata(opened->info, c0, nc, t0, nt);
    binary(*opened, rec);
    return rec;
  }
  auto file = open_file(path);
  const ReadPlan plan = make_plan(*file, window.record);
  const auto [c0, nc, t0, nt] = resolve_window(path, plan.info, window);
  DasRecord rec = record_metadata(plan.info, c0, nc, t0, nt);
  rec.source = path;
  hdf5(*file, plan, rec);
  return rec;
}

}  // namespace
}  // namespace detail

DasRecord read_das(const std::string& path, const ReadWindow& window) {
  using namespace detail;
  DasRecord rec = read_window(
      path, window,
      [](const BinaryRecord& opened, DasRecord& r) {
        r.data.resize(r.num_channels * r.num_samples);
        opened.read_samples(r);
      },
      [](const h5::File& file, const ReadPlan& plan, DasRecord& r) { read_samples(file, plan, r); });
  scale_and_count(rec);
  return rec;
}

DasRecord read_das_stored(const std::string& path, const ReadWindow& window) {
  using namespace detail;
  return read_window(
      path, window, [](const BinaryRecord& opened, DasRecord& r) { opened.read_stored(r); },
      [](const h5::File& file, const ReadPlan& plan, DasRecord& r) { read_stored_samples(file, plan, r); });
}

}  // namespace dasnet
