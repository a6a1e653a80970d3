// How `dasnet infer` under mpirun/srun shares its files among the ranks: largest file first to
// the rank with the fewest bytes so far (longest-processing-time rule), so one large record
// does not leave the other ranks idle. Every rank computes the same deal from the same sizes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace dasnet {

// For each rank, the indices of the files it processes, in the order given.
std::vector<std::vector<size_t>> deal_files_by_size(const std::vector<uint64_t>& file_bytes, int ranks);

}  // namespace dasnet
