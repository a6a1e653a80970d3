// MATLAB v7.3 files of the study ("DSI" files): HDF5 behind a 512-byte MATLAB userblock.
//
// One top-level struct group holds the record; its name is the key: `dsi30` in 30-minute files,
// `variable` or `data` in 1-minute files. Fields:
//   fh   file header, a numeric vector (MATLAB double)
//   th   trace headers (not needed for the samples)
//   dat  int16 samples; MATLAB's time x channel matrix, which HDF5 stores transposed, i.e. as
//        channel x time (MATLAB is column-major, HDF5 row-major)
//
// Sample interval: the study's notes say "the sample interval is fh[7]". That is Python
// indexing of the flattened header (the study's pipeline read these files with h5py), i.e.
// 0-based element 7, which is fh(8) in MATLAB. We read element kSampleIntervalIndex = 7 of the
// flattened fh and require a plausible interval in seconds (0 < dt < 1); anything else is an
// error naming fh, rather than a silently wrong rate. The files carry no start time or channel
// spacing we can decode: start_time_known = false and channel_spacing_m = 0 (unknown).
#include <cstring>
#include <fstream>

#include "io/das_read_plan.h"

namespace dasnet::detail {
namespace {

constexpr size_t kSampleIntervalIndex = 7;  // 0-based into the flattened fh
constexpr const char* kKnownKeys[] = {"dsi30", "variable", "data"};

bool has_record_fields(const h5::File& f, const std::string& group) {
  return f.is_group(group) && f.is_dataset(group + "/dat") && f.is_dataset(group + "/fh");
}

// The struct group: a known key first, else any top-level group with fh and dat.
std::string find_record_group(const h5::File& f) {
  for (const char* key : kKnownKeys)
    if (has_record_fields(f, std::string("/") + key)) return std::string("/") + key;
  for (const std::string& name : f.children("/"))
    if (has_record_fields(f, "/" + name)) return "/" + name;
  return "";
}

bool has_matlab_header(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[20] = {};
  in.read(head, sizeof head);
  return in.gcount() == sizeof head && std::memcmp(head, "MATLAB 7.3 MAT-file", 19) == 0;
}

}  // namespace

bool is_dsi_mat(const h5::File& f) { return !find_record_group(f).empty(); }

ReadPlan plan_dsi_mat(const h5::File& f) {
  const std::string key = find_record_group(f);
  if (key.empty()) f.fail("/", "missing MATLAB struct with fields fh and dat");
  ReadPlan plan;
  const h5::Node dat = f.dataset(key + "/dat");
  describe_matrix(plan, dat, /*time_axis=*/1);

  const h5::Node fh = f.dataset(key + "/fh");
  const std::vector<double> header = fh.read_numbers(1 << 16);
  if (header.size() <= kSampleIntervalIndex)
    fh.fail("file header has " + std::to_string(header.size()) + " elements; the sample interval is element " +
            std::to_string(kSampleIntervalIndex) + " (0-based)");
  const double dt = header[kSampleIntervalIndex];
  if (!(dt > 0 && dt < 1))
    fh.fail("element 7 (0-based; MATLAB fh(8)) = " + std::to_string(dt) + " is not a sample interval in seconds");
  plan.info.sampling_rate_hz = 1.0 / dt;
  plan.info.format_version = has_matlab_header(f.path()) ? "7.3" : "";
  plan.info.start_time_known = false;
  plan.info.units = "counts";
  return plan;
}

}  // namespace dasnet::detail
