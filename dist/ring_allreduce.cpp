#ifdef DASNET_HAVE_MPI  // the ring runs over MPI point-to-point messages
#include "dist/ring_allreduce.h"

#include <algorithm>
#include <climits>

namespace dasnet {

namespace {

struct Chunk {
  size_t offset, count;
};

Chunk chunk_of(size_t count, int parts, int index) {
  const size_t base = count / parts, extra = count % parts;
  const size_t i = size_t(index);
  return {i * base + std::min(i, extra), base + (i < extra ? 1 : 0)};
}

// Messages are cut into pieces of at most this many floats: MPI counts are ints, and pieces
// let the add of one piece overlap the transfer of the next.
constexpr size_t kPiece = size_t(1) << 18;  // 1 MiB

int exchange(const float* send, size_t send_count, float* recv, size_t recv_count, int right, int left,
             MPI_Comm comm) {
  return MPI_Sendrecv(send, int(send_count), MPI_FLOAT, right, 7, recv, int(recv_count), MPI_FLOAT, left, 7, comm,
                      MPI_STATUS_IGNORE);
}

}  // namespace

int ring_allreduce_sum(float* data, size_t count, MPI_Comm comm, std::vector<float>& scratch) {
  int rank = 0, p = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &p);
  if (p == 1 || count == 0) return MPI_SUCCESS;
  const int right = (rank + 1) % p, left = (rank + p - 1) % p;
  scratch.resize(std::min(count / p + 1, kPiece));
  const size_t pieces = (chunk_of(count, p, 0).count + kPiece - 1) / kPiece;  // chunk 0 is the longest

  // Reduce-scatter: in step s, send chunk (rank - s) and add the received chunk (rank - s - 1).
  for (int s = 0; s < p - 1; ++s) {
    Chunk out = chunk_of(count, p, (rank - s + p) % p);
    Chunk in = chunk_of(count, p, (rank - s - 1 + 2 * p) % p);
    // Every rank makes the same number of exchanges (pieces of the largest chunk, empty ones
    // where a chunk is shorter), so the sends and receives along the ring pair up.
    for (size_t k = 0; k < pieces; ++k) {
      size_t so = k * kPiece, sn = so < out.count ? std::min(kPiece, out.count - so) : 0;
      size_t ro = k * kPiece, rn = ro < in.count ? std::min(kPiece, in.count - ro) : 0;
      int err = exchange(data + out.offset + so, sn, scratch.data(), rn, right, left, comm);
      if (err != MPI_SUCCESS) return err;
      float* dst = data + in.offset + ro;
      const float* src = scratch.data();
#pragma omp simd
      for (size_t i = 0; i < rn; ++i) dst[i] += src[i];
    }
  }
  // All-gather: rank r now holds the sum of chunk (r + 1); pass summed chunks to the right.
  for (int s = 0; s < p - 1; ++s) {
    Chunk out = chunk_of(count, p, (rank + 1 - s + p) % p);
    Chunk in = chunk_of(count, p, (rank - s + p) % p);
    for (size_t k = 0; k < pieces; ++k) {
      size_t so = k * kPiece, sn = so < out.count ? std::min(kPiece, out.count - so) : 0;
      size_t ro = k * kPiece, rn = ro < in.count ? std::min(kPiece, in.count - ro) : 0;
      int err = exchange(data + out.offset + so, sn, data + in.offset + ro, rn, right, left, comm);
      if (err != MPI_SUCCESS) return err;
    }
  }
  return MPI_SUCCESS;
}

}  // namespace dasnet
#endif  // DASNET_HAVE_MPI
