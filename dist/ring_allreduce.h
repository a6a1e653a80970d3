// Ring all-reduce (sum) of a float buffer over MPI point-to-point messages: the buffer is cut
// into p chunks (the first count % p one element longer), p - 1 reduce-scatter steps leave each
// rank with one fully summed chunk, p - 1 all-gather steps pass the summed chunks around. Each
// rank sends 2 (p - 1) / p of the buffer: bandwidth-optimal, with 2 (p - 1) latency terms.
// Only built with MPI (DASNET_HAVE_MPI).
#pragma once
#include <mpi.h>

#include <cstddef>
#include <vector>

namespace dasnet {

// In place. `scratch` grows to one chunk. Returns the MPI error code of the first failing call
// (MPI_SUCCESS when all went well); the communicator should have MPI_ERRORS_RETURN set.
int ring_allreduce_sum(float* data, size_t count, MPI_Comm comm, std::vector<float>& scratch);

}  // namespace dasnet
