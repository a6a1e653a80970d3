// dasnet infer as one call: probability maps (HDF5 + PNG) of every record, by one process or,
// under mpirun/srun, by the ranks, each taking its share of the files by size
// (infer/file_dealing.h). Rank 0 shows the progress of all ranks (infer/rank_progress.h) and
// prints the totals (an all-reduce at the end). A file that fails is named by its rank, the others
// finish their files, and the call throws on every rank; a usage error ends the job at once.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/backend.h"
#include "infer/probability_map.h"
#include "io/das_selection.h"
#include "kernels/backend_factory.h"

namespace dasnet {

struct InferenceJob {
  std::string checkpoint, out_dir;
  // Files, or folders of them: a folder's files that follow each other in time are one record
  // (one map, named after its first and last file), and maps stop at every gap or overlap.
  std::vector<std::string> files;
  DasSelection selection;  // --time / --distance, applied to every record
  InferOptions options;  // strides resolved
  double dist_timeout_s = 600;  // under a launcher: seconds a rank may stay silent
  bool progress = true, png = true;
  std::function<std::unique_ptr<Backend>()> make_backend;
};

// Throws std::runtime_error listing the failed files when any failed, on every rank.
void run_inference_job(const InferenceJob& job);

}  // namespace dasnet
