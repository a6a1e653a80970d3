// libFuzzer target for the DAS readers. HDF5 reads files, so each input is written to a
// temporary file and then detected, inspected and read (a bounded window, and the whole file
// when small). The readers may refuse any input with std::runtime_error; anything else (a
// crash, a sanitizer report, another exception type, an allocation past libFuzzer's limit)
// is a bug.
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "io/das_formats.h"
#include "tests/fuzz/fuzz_input_file.h"

namespace {

void exercise(const std::string& path) {
  try {
    dasnet::detect_das_format(path);
  } catch (const std::runtime_error&) {
  }
  try {
    const dasnet::DasInfo info = dasnet::inspect_das(path);
    dasnet::ReadWindow window;
    window.first_channel = info.num_channels / 2;
    window.num_channels = std::min<size_t>(64, info.num_channels - window.first_channel);
    window.first_sample = info.num_samples / 3;
    window.num_samples = std::min<size_t>(4096, info.num_samples - window.first_sample);
    dasnet::read_das(path, window);
    if (info.num_channels * info.num_samples <= (size_t{1} << 20)) dasnet::read_das(path);
  } catch (const std::runtime_error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = dasnet_fuzz::input_as_file(data, size);
  if (!path.empty()) exercise(path);
  return 0;
}
