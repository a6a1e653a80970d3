// libFuzzer target for the files dasnet itself writes and reads back: data sets, checkpoints and
// reference sets (tests/fuzz/fuzz_das_readers.cpp covers the vendors' DAS files). Each input is
// written to a temporary file and opened as each kind: a data set's summary, split shapes and
// every image of every split (in memory and streamed from the file), a checkpoint, a reference
// set. Refusing an input with std::runtime_error is fine; a crash, a sanitizer report, another
// exception type, an allocation past libFuzzer's limit or a hang (-timeout) is a bug.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/checkpoint.h"
#include "io/dataset.h"
#include "io/reference_set.h"
#include "tests/fuzz/fuzz_input_file.h"

namespace {

// Reads every sample of `source` (the reads the training loop makes).
void read_all(const dasnet::DataSource& source) {
  const dasnet::Shape shape = source.sample_shape();
  std::vector<float> image(shape.per_sample());
  int label = 0;
  for (size_t i = 0; i < source.size(); ++i) source.read(i, image.data(), &label);
}

void exercise_dataset(const std::string& path) {
  try {
    const dasnet::DatasetSummary summary = dasnet::read_dataset_summary(path);
    dasnet::require_split_shapes(path, dasnet::Shape{1, summary.channels, summary.height, summary.width});
  } catch (const std::runtime_error&) {
  }
  for (const std::string& split : dasnet::dataset_splits())
    for (bool in_memory : {true, false}) try {
        read_all(*dasnet::open_dataset(path, split, in_memory));
      } catch (const std::runtime_error&) {
      }
}

void exercise(const std::string& path) {
  exercise_dataset(path);
  dasnet::checkpoint_is_readable(path);
  try {
    dasnet::load_checkpoint(path);
  } catch (const std::runtime_error&) {
  }
  try {
    dasnet::load_reference_set(path);
  } catch (const std::runtime_error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = dasnet_fuzz::input_as_file(data, size);
  if (!path.empty()) exercise(path);
  return 0;
}
