// Writes synthetic records as int16 files the DAS readers load like real ones, and reads back the
// generator's ground truth stored beside the data.
//
// Layouts written:
// - PRODML 2.0: /Acquisition (MeasurementStartTime, NumberOfLoci, SpatialSamplingInterval, ...),
//   /Acquisition/Raw[0] (OutputDataRate, NumberOfLoci, ...), Raw[0]/RawData int16 with a
//   Dimensions attribute ("time","locus" or "locus","time"), Raw[0]/RawDataTime int64 microseconds.
// - DSI (MATLAB v7.3): HDF5 with a 512-byte MAT userblock; a struct group (default key `dsi30`)
//   with `fh` (double; 0-based element 7 = MATLAB fh(8) = sample interval in seconds), `th`
//   (double per-channel trace header: channel number and position in metres) and `dat` int16
//   stored channel x time in HDF5 (time x channel in MATLAB).
// - Truth (both formats): group /dasnet_truth with `cells` uint8 [channel cells x time cells]
//   (classes in the `class_names` attribute; cell size in cell_channels / cell_samples) and
//   `boxes` int64 [n x 5] = (class, first channel, end channel, first sample, end sample) of the
//   saturating and non-coherent events.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/usage_error.h"
#include "io/synth.h"

namespace dasnet {

enum class SynthFormat { prodml_time_locus, prodml_locus_time, dsi };
SynthFormat parse_synth_format(const std::string& format, const std::string& layout);  // throws UsageError

struct SynthWriteOptions {
  SynthFormat format = SynthFormat::prodml_time_locus;
  std::string dsi_key = "dsi30";
  // Called after each block with (samples done, total samples).
  std::function<void(size_t, size_t)> progress;
};

// Generates the record block by block (bounded memory) and writes it to `path`.
void write_synthetic_record(const std::string& path, const SynthOptions& options, const SynthScene& scene,
                            const SynthWriteOptions& write_options);

struct TruthMap {
  size_t channels = 0, samples = 0;       // record size the map covers
  int cell_channels = kTruthCellChannels, cell_samples = kTruthCellSamples;
  size_t rows = 0, cols = 0;              // cells
  std::vector<uint8_t> cells;             // rows x cols TruthClass values
  std::vector<std::string> class_names;
  bool empty() const { return cells.empty(); }
  // Class of the patch [ch0, ch0 + nch) x [t0, t0 + nt): saturated if >= 2% of the covered cells
  // are; else waves if >= 20% are; else noncoherent if >= 20% are; else noise.
  TruthClass patch_class(size_t ch0, size_t nch, size_t t0, size_t nt) const;
};

// The truth stored in a file; an empty map when the file has none (a real record).
TruthMap read_truth(const std::string& path);

}  // namespace dasnet
