// Writes a DAS record (a DasSource: a file, a window of one, or contiguous files) to a standard
// HDF5 format, atomically (io/durable_file.h), a block of samples at a time.
//
//   dasdae  DASCore's own format (what dascore.write(patch, path, "DASDAE") writes, version 1):
//           waveforms/<patch>/data distance x time, _coord_time int64 nanoseconds per sample,
//           _coord_distance float64 metres; attributes as PyTables writes them.
//           Times exact to the nanosecond.
//   prodml  PRODML 2.1: Acquisition (NumberOfLoci, StartLocusIndex, SpatialSamplingInterval,
//           MeasurementStartTime, ...), Acquisition/Raw[0]/RawData time x locus with
//           Dimensions, and RawDataTime in integer microseconds (as the schema has it); the
//           PartStartTime/PartEndTime stamps carry all nine digits of the nanoseconds.
//           Distances are StartLocusIndex x SpatialSamplingInterval, so a record whose
//           distance start is not a whole number of spacings is refused (use dasdae).
//
// Samples: int16 stay int16 where the file states no scale (exact and half the size); anything
// else is written as the float32 values dasnet reads (physical units after the file's scale).
#pragma once
#include <string>
#include <vector>

#include "core/usage_error.h"
#include "io/das_source.h"

namespace dasnet {

enum class DasOutputFormat { dasdae, prodml };

// "dasdae" or "prodml"; throws UsageError naming --format otherwise.
DasOutputFormat parse_das_output_format(const std::string& name);

struct DasWriteReport {
  std::string dtype;               // as written: "int16" or "float32"
  std::vector<std::string> notes;  // what could not be carried over, in words
};

// Writes all of `source` to `path`; memory stays within `block_bytes` of samples.
DasWriteReport write_das_file(const std::string& path, const DasSource& source, DasOutputFormat format,
                              size_t block_bytes = size_t(64) << 20);

}  // namespace dasnet
