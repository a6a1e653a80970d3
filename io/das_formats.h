// Readers of DAS instrument files (all HDF5 underneath): detect the format from the content,
// inspect the metadata without reading the samples, and read a channel x time window into a
// DasRecord in float32, chunk by chunk.
//
// Formats (the names detect_das_format returns):
//   dsi-mat     MATLAB v7.3 files of the study: struct `dsi30` / `variable` / `data` with
//               fh (file header), th, dat (int16, HDF5 channel x time)
//   prodml      PRODML 2.0 / 2.1 / 2.2 (Silixa iDAS, OptaSense, ...): Acquisition/Raw[N]/RawData,
//               then one processed record per FBE band (Processed/Fbe[N]/FbeData[M])
//   terra15     Terra15 Treble: data_product/data with posix_time per sample
//   optodas     ASN OptoDAS: data with header/... (dataScale, sensitivities)
//   febus       Febus A1: <device>/Source1/Zone1/<data>, overlapping 3-D blocks
//   ap_sensing  AP Sensing: DAS with metadata in one-element datasets
//   silixa_h5   Silixa H5: Acoustic with text attributes, day-first time stamps
//   neubrex     Neubrex NEUBRESCOPE: Acoustic with NEUBRESCOPE.* attributes
//   gdr         GDR DAS (DAS-RCN / PRODML 2.2): DasRawData/RawData and DasTimeArray
//   dasdae      DASCore's own format: waveforms/<patch>/data with _coord_<dim> arrays, a record
//               per patch
//   xdas        xdas netCDF4: one 2-D variable, time and distance as CF tie points
//   dasvader    DASVader JLD2 (Julia): /dDAS with object references to anonymous arrays
//   h5simple    a bare data set (raw or data) beside a time array (timestamp, time, timestamps)
//
// Every failure throws std::runtime_error whose message starts with the file path and names
// the object and the problem (truncated or corrupted file, missing dataset or attribute,
// wrong dtype or rank, unknown format, empty data, window out of range).
#pragma once
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>

#include "io/das_record.h"

namespace dasnet {

// Metadata of a DAS file, known without reading the samples.
struct DasInfo {
  std::string format;          // see the list above
  std::string format_version;  // e.g. "2.0" for PRODML, "5" for Terra15; "" if the file says none
  std::string source;          // file path
  std::string data_path;       // HDF5 path of the samples, e.g. "/Acquisition/Raw[0]/RawData"
  std::string stored_order;    // "time x channel", "channel x time" or "block x time x channel"
  size_t num_channels = 0;
  size_t num_samples = 0;
  int64_t start_time_ns = 0;   // UTC time of the first sample
  bool start_time_known = true;  // false where the format stores no start time (dsi-mat)
  double sampling_rate_hz = 0;
  double channel_spacing_m = 0;  // 0 where the file does not say
  double distance_start_m = 0;   // distance of the first channel along the fibre
  double gauge_length_m = 0;     // 0 where the file does not say
  std::string units;             // of the values after scale_factor
  double scale_factor = 1.0;     // physical = raw * scale_factor
  std::string raw_type;          // element type as stored: "int16", "int32", "float32", "float64"
  // What real files hold beyond a plain matrix (copied into DasRecord):
  int time_axis = 0;             // the stored axis that is time (0: time first; Febus blocks: 0)
  size_t channel_step = 1;       // stored channel k is locus first_locus + k * channel_step
  int64_t first_locus = 0;       // locus index of the first stored channel (may be negative)
  std::string distance_units = "m";  // as the file states them; "" when it gives channel numbers only
  bool scale_stated = false;     // scale_factor comes from the file (else 1: values as stored)
  bool processed = false;        // a processed product (FBE band, PSD in dB), not raw data
  std::string product;           // what the processed product is ("" for raw data)
  size_t record_index = 0;       // this record of the file's records (FBE: one per band)
  size_t record_count = 1;       // records the file holds
  std::string record_name;       // e.g. "Fbe[0]/FbeData[2]"; "" for single-record files

  double duration_s() const { return sampling_rate_hz > 0 ? num_samples / sampling_rate_hz : 0; }
  // UTC time of the last sample.
  int64_t end_time_ns() const {
    if (sampling_rate_hz <= 0 || num_samples == 0) return start_time_ns;
    return start_time_ns + static_cast<int64_t>((num_samples - 1) * 1e9 / sampling_rate_hz + 0.5);
  }
};

// Which part of the file to read, in channel and sample indices (defaults: everything).
struct ReadWindow {
  static constexpr size_t kAll = std::numeric_limits<size_t>::max();
  size_t first_channel = 0;
  size_t num_channels = kAll;  // kAll: through the last channel
  size_t first_sample = 0;
  size_t num_samples = kAll;   // kAll: through the last sample
  size_t record = 0;           // which record of a multi-record file (DasInfo::record_count)
};

// The format name of the file at `path`, decided from its content.
std::string detect_das_format(const std::string& path);

DasInfo inspect_das(const std::string& path, size_t record = 0);

// Refuses processed products (FBE bands, PSD) where raw data is needed, e.g. for training:
// throws naming the file, the product and the flag that allows it, unless `allow_processed`.
void require_raw_data(const DasInfo& info, bool allow_processed, const std::string& allow_flag);

// Reads `window` as float32 channels x time, scaled to physical units where the format says
// how. NaN/Inf samples are kept as they are and counted in DasRecord::non_finite_count so that
// callers (patch extraction, labelling) can refuse patches that contain them.
DasRecord read_das(const std::string& path, const ReadWindow& window = {});

// Reads `window` without converting: DasRecord::stored holds the samples in the file's element
// type and axis order (no transpose, no scaling; `data` stays empty), each HDF5 window in one
// hyperslab read and each TDMS run in one read straight into the destination. Types other
// than int16/int32/float32/float64 (and formats read through a library: SEG-Y, miniSEED) come
// as float32 channel-major. Non-finite samples are not counted here.
DasRecord read_das_stored(const std::string& path, const ReadWindow& window = {});

}  // namespace dasnet
