// The B=1 instantiation of the blocked per-channel passes (see cpu_blocked_kernels.h).
#include "kernels/cpu_blocked_kernels.inc"

namespace dasnet {
const BlockedKernels& blocked_kernels_generic() { return blocked_kernels_for<1>(); }
}  // namespace dasnet
