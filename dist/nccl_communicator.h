// The NCCL communicator: one GPU per rank chosen by local rank (made the current device, so the
// CUDA backend created afterwards uses it), unique id created by rank 0 and broadcast over MPI (a
// single rank needs no MPI), non-blocking communicator polled for asynchronous errors (a dead peer
// makes ncclCommGetAsyncError report, or the watchdog time out, and the communicator is aborted).
// Collectives run on NCCL's own stream, ordered after and before the compute stream with events.
#pragma once
#include <memory>

#include "dist/communicator.h"

namespace dasnet {

#ifdef DASNET_HAVE_NCCL
std::unique_ptr<Communicator> make_nccl_communicator(const CommOptions& options);
#endif

}  // namespace dasnet
