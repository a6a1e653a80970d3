// CPU all-reduce bandwidth: our ring (dist/ring_allreduce.h) against MPI_Allreduce over buffer
// sizes. Run under mpirun, e.g.
//   mpirun --allow-run-as-root -np 2 build/bench_allreduce [max_mib=64] [repeats=10]
// Prints, per size, the best-of-repeats time of the slowest rank and the "bus bandwidth"
// 2 (p - 1) / p * bytes / time (NCCL's convention: comparable across rank counts).
#ifdef DASNET_HAVE_MPI
#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "dist/ring_allreduce.h"

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, p = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &p);
  const size_t max_mib = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 64;
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 10;
  const size_t max_floats = max_mib * 1024 * 1024 / sizeof(float);
  std::vector<float> buffer(max_floats, 1.0f), scratch;
  if (rank == 0)
    std::printf("%d ranks; bus bandwidth = 2(p-1)/p * bytes / time, best of %d\n%12s %14s %14s %12s %12s %8s\n", p,
                repeats, "bytes", "ring s", "MPI s", "ring GB/s", "MPI GB/s", "ratio");
  for (size_t floats = 1024; floats <= max_floats; floats *= 4) {
    double best[2] = {1e30, 1e30};
    for (int rep = 0; rep < repeats; ++rep) {
      for (int algorithm = 0; algorithm < 2; ++algorithm) {
        std::fill(buffer.begin(), buffer.begin() + long(floats), 1.0f);
        MPI_Barrier(MPI_COMM_WORLD);
        double start = MPI_Wtime();
        if (algorithm == 0)
          dasnet::ring_allreduce_sum(buffer.data(), floats, MPI_COMM_WORLD, scratch);
        else
          MPI_Allreduce(MPI_IN_PLACE, buffer.data(), int(floats), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        double t = MPI_Wtime() - start;
        MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        best[algorithm] = std::min(best[algorithm], t);
      }
    }
    const double bytes = double(floats) * sizeof(float), factor = 2.0 * (p - 1) / p;
    if (rank == 0)
      std::printf("%12.0f %14.6f %14.6f %12.2f %12.2f %8.2f\n", bytes, best[0], best[1], factor * bytes / best[0] / 1e9,
                  factor * bytes / best[1] / 1e9, best[1] / best[0]);
  }
  MPI_Finalize();
  return 0;
}
#else
#include <cstdio>
int main() {
  std::puts("bench_allreduce: built without MPI");
  return 0;
}
#endif
