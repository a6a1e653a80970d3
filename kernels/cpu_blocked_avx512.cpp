// The B=16 instantiation of the blocked per-channel passes (see cpu_blocked_kernels.h).
#include "kernels/cpu_blocked_kernels.inc"

namespace dasnet {
const BlockedKernels& blocked_kernels_avx512() { return blocked_kernels_for<16>(); }
}  // namespace dasnet
