// Internal to the DAS readers: how one file's stored samples map onto the channel x time
// record, as each format's planner works it out from the metadata.
#pragma once
#include <string>

#include "io/das_formats.h"
#include "io/hdf5_util.h"

namespace dasnet::detail {

struct ReadPlan {
  DasInfo info;
  int rank = 2;        // 2: a matrix; 3: Febus blocks [block, row, channel]
  int time_axis = 0;   // rank 2: the stored axis that is time (0: time x channel)
  size_t block_skip = 0;  // rank 3: overlap rows dropped at the start of each block
  size_t block_keep = 0;  // rank 3: rows kept per block
  // Nonzero: the samples are the dataset this object reference points at (DASVader keeps its
  // arrays anonymous); info.data_path then only names them for messages.
  hobj_ref_t data_reference = 0;
};

// Checks the samples dataset (numeric, the expected rank, not empty) and fills the shape,
// raw type, data path and stored order of `plan` for a matrix with time on `time_axis`.
void describe_matrix(ReadPlan& plan, const h5::Node& data, int time_axis);

// Units of samples whose file names none: "counts" for integers, "unknown" for floats.
std::string unknown_units_for(const std::string& raw_type);

// Throws "<file>: <object>: <problem>" unless `value` is finite and > 0.
double require_positive(const h5::Node& where, const std::string& what, double value);

// One entry per format: a cheap content test and the planner. Tests must not throw on files
// of other formats; planners throw on anything missing or malformed.
bool is_dsi_mat(const h5::File& f);
ReadPlan plan_dsi_mat(const h5::File& f);
bool is_prodml(const h5::File& f);
ReadPlan plan_prodml(const h5::File& f);
ReadPlan plan_prodml_record(const h5::File& f, size_t record);  // raw, then one record per FBE band
bool is_terra15(const h5::File& f);
ReadPlan plan_terra15(const h5::File& f);
bool is_optodas(const h5::File& f);
ReadPlan plan_optodas(const h5::File& f);
bool is_febus(const h5::File& f);
ReadPlan plan_febus(const h5::File& f);
ReadPlan plan_febus_record(const h5::File& f, size_t record);  // one record per zone
bool is_ap_sensing(const h5::File& f);
ReadPlan plan_ap_sensing(const h5::File& f);
bool is_silixa_h5(const h5::File& f);
ReadPlan plan_silixa_h5(const h5::File& f);
bool is_neubrex(const h5::File& f);
ReadPlan plan_neubrex(const h5::File& f);
bool is_gdr(const h5::File& f);
ReadPlan plan_gdr(const h5::File& f);

// Formats of the field's own software (io/format_field_tools.cpp).
bool is_dasdae(const h5::File& f);
ReadPlan plan_dasdae(const h5::File& f);
ReadPlan plan_dasdae_record(const h5::File& f, size_t record);  // one record per patch
bool is_xdas(const h5::File& f);
ReadPlan plan_xdas(const h5::File& f);
bool is_dasvader(const h5::File& f);
ReadPlan plan_dasvader(const h5::File& f);
bool is_h5simple(const h5::File& f);
ReadPlan plan_h5simple(const h5::File& f);

}  // namespace dasnet::detail
