// Stored time-major samples (rows of time, columns of channels) into the record's
// channel-major float layout; shared by the HDF5 and the binary readers.
#pragma once
#include <algorithm>
#include <cstddef>

namespace dasnet::detail {

// Tiled transpose of `rows` stored rows, each `row_stride` values long, taking columns
// [col0, col0 + nc) into out[c * out_stride + out_col + r] as float. Column bands are split
// over OpenMP threads (each thread owns whole output rows, so no two write the same line);
// small calls (one channel run of a chunked TDMS file) stay on the calling thread.
template <typename T>
void transpose_into(const T* staging, size_t rows, size_t row_stride, size_t col0, size_t nc, float* out,
                    size_t out_stride, size_t out_col) {
  constexpr size_t kTile = 32;  // a 32 x 32 tile of both sides stays in L1
  constexpr size_t kParallelValues = size_t{1} << 16;
  const long bands = static_cast<long>((nc + kTile - 1) / kTile);
#pragma omp parallel for schedule(static) if (rows * nc >= kParallelValues && bands > 1)
  for (long band = 0; band < bands; ++band) {
    const size_t cc0 = static_cast<size_t>(band) * kTile, cc1 = std::min(nc, cc0 + kTile);
    for (size_t r0 = 0; r0 < rows; r0 += kTile) {
      const size_t r1 = std::min(rows, r0 + kTile);
      for (size_t c = cc0; c < cc1; ++c) {
        float* dst = out + c * out_stride + out_col;
        const T* src = staging + col0 + c;
        for (size_t r = r0; r < r1; ++r) dst[r] = static_cast<float>(src[r * row_stride]);
      }
    }
  }
}

}  // namespace dasnet::detail
