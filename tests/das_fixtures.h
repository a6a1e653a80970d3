// Small synthetic DAS files in each vendor's layout, with known values, for the reader tests
// (and a large PRODML file for the read benchmark).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dasnet::fixtures {

// What a fixture file holds. Sample (channel c, time t) of the record is value(c, t) (times the
// format's scale factor where it has one, see OptoDAS).
struct Spec {
  size_t channels = 12;
  size_t samples = 64;
  double rate_hz = 500;
  double spacing_m = 2;
  double gauge_m = 10;
  int64_t start_ns = 1684931696123456000LL;  // 2023-05-24T12:34:56.123456Z
};

// The known pattern: an int16-representable value distinct per (channel, time) nearby.
float value(size_t channel, size_t time);

// A fresh empty directory under the system temp dir for one test.
std::string make_temp_dir(const std::string& tag);


// MATLAB v7.3 study file: 512-byte MATLAB userblock, struct group `key` with fh (fh[7] = dt,
// 0-based), th and dat (int16, HDF5 channel x time).
void write_dsi_mat(const std::string& path, const Spec& spec, const std::string& key = "dsi30");

// PRODML: version "2.0" writes Dimensions = ("time", "locus"), ISO PartStartTime and
// OutputDataRate; "2.1" writes locus x time (when time_major is false) with no Dimensions
// attribute (NumberOfLoci decides) and only integer microseconds in RawDataTime.
// chunk_rows > 0 chunks the data along time. Written block by block (large files are fine).
void write_prodml(const std::string& path, const Spec& spec, const std::string& version = "2.0",
                  bool time_major = true, size_t chunk_rows = 0);
// Terra15 v5: posix_time per sample, dt_computer and dx; `unwritten_rows` preallocated rows
// with time 0 follow the data (they are not part of the record).
// Version 4 keeps the data in a group named by the data_product attribute ("velocity").
void write_terra15(const std::string& path, const Spec& spec, size_t unwritten_rows = 3, int version = 5);
// ASN OptoDAS: int16 data, dataScale and sensitivities; record = value * data_scale / sensitivity.
void write_optodas(const std::string& path, const Spec& spec, double data_scale, double sensitivity);
// Febus A1: `blocks` 3-D blocks of `block_rows` new rows each plus `overlap_rows` rows of the
// neighbouring blocks on each side.
// The newer layout (as febus_2.h5) has Extent rows that do not start at 0 and here also no
// BlockRate (the block times tell it). `name` is the data set's name.
struct FebusLayout {
  bool newer = false;
  std::string name = "StrainRate";
  double first_block_gap_s = 0;  // > 0: block 1 starts this much later (a gap in the recording)
};
void write_febus(const std::string& path, const Spec& spec, size_t blocks, size_t block_rows, size_t overlap_rows,
                 const FebusLayout& layout = {});
void write_ap_sensing(const std::string& path, const Spec& spec);
void write_silixa_h5(const std::string& path, const Spec& spec);
void write_neubrex(const std::string& path, const Spec& spec);
// DasDimensions as given (an array of names; the data is locus x time).
void write_gdr(const std::string& path, const Spec& spec,
               const std::vector<std::string>& dimensions = {"locus", "time"});

// Formats of the field's own software (io/format_field_tools.cpp, PRODML FBE):
// PRODML 2.0 FBE as OptaSense writes it: Processed/Fbe[0] with FbeDataTime and `bands` bands
// FbeData[b] (time x locus, float32) holding value(c, t) + 1000 b; with_raw adds a raw record
// (write_prodml's) before the bands.
void write_prodml_fbe(const std::string& path, const Spec& spec, size_t bands, bool with_raw = false);
// DASDAE as DASCore writes it: `patches` patches back to back, distance x time float32, patch p
// holding value(c, t) + 100 p; distances start at 100 m.
void write_dasdae(const std::string& path, const Spec& spec, size_t patches = 1);
// H5Simple: /raw time x channel float32 and /timestamp posix seconds; with_distance adds
// /distance (from 50 m).
void write_h5simple(const std::string& path, const Spec& spec, bool with_distance = false);
// xdas netCDF4: __values__ time x distance float64 with CF tie points; `time_ties` are the time
// tie indices (default first and last); a tie one index after the one before it marks a
// 1 s gap there.
void write_xdas(const std::string& path, const Spec& spec, const std::vector<int64_t>& time_ties = {});
// DASVader JLD2: /dDAS referencing an anonymous distance x time float32 array and htime;
// offsets start at 200 m.
void write_dasvader(const std::string& path, const Spec& spec);

// Byte-level helpers for corruption tests.
void copy_file(const std::string& from, const std::string& to);
void truncate_file(const std::string& path, size_t keep_bytes);
void write_bytes(const std::string& path, const std::string& bytes);
size_t file_size(const std::string& path);

// Test-only edits of an existing HDF5 file.
void delete_object(const std::string& path, const std::string& object);
void delete_attribute(const std::string& path, const std::string& object, const std::string& attribute);
// Replaces a dataset by a float64 array of `dims` filled with zeros (wrong rank/type tests).
void replace_dataset(const std::string& path, const std::string& object, const std::vector<size_t>& dims,
                     bool as_text = false);
// Overwrites one float32/float64 sample of a 2-D dataset (NaN tests).
void set_sample(const std::string& path, const std::string& object, size_t row, size_t col, double v);

}  // namespace dasnet::fixtures
