// PyTorch's torch.save file of a state_dict (.pt), written and read without PyTorch.
//
// Why in C++ rather than a Python step: PyTorch is not a dependency of dasnet (nor installed on
// the machines that build it), and a state_dict file is a small documented format: a zip archive
// (stored, libzip) of "<archive>/data.pkl" (a pickle of an OrderedDict name -> tensor, each
// tensor a torch._utils._rebuild_tensor_v2 call over a persistent storage id
// ("storage", torch.<T>Storage, key, "cpu", numel)), "<archive>/data/<key>" (the storage's raw
// little-endian bytes), "<archive>/byteorder" and "<archive>/version". The writer emits only
// what torch.load(weights_only=True) accepts; the reader is a restricted pickle machine that
// admits the same classes and functions and nothing else (no code runs from a file).
#pragma once
#include <string>

#include "export/state_dict.h"

namespace dasnet {

// Writes `tensors` (float32 and 0-d int64) to `path` atomically (io/durable_file.h).
void write_torch_state_dict(const StateDict& tensors, const std::string& path);

// The tensors of a torch.save file of a state_dict: float32/float64 tensors as float32, int
// tensors of one element as int64 counts. Also accepted: a dict holding it under "state_dict"
// or "model_state_dict" (training scripts' checkpoints), and DistributedDataParallel's
// "module." prefixes (dropped). Throws std::runtime_error naming `path` (and the tensor) for a
// legacy (non-zip) file, a pickle of anything else, or a truncated storage.
StateDict read_torch_state_dict(const std::string& path);

}  // namespace dasnet
