// The CPU's vector instruction set, detected at run time (cpuid through
// __builtin_cpu_supports), so one build runs on a Haswell node (AVX2+FMA) and on an AVX-512
// machine at full speed without -march=native. DASNET_CPU_ISA=avx2|avx512|baseline forces a
// lower level (to test the AVX2 path on an AVX-512 machine); a level the CPU lacks is an error.
#pragma once
#include "core/usage_error.h"

namespace dasnet {

enum class CpuIsa { Baseline, Avx2, Avx512 };

// The detected (or DASNET_CPU_ISA-forced) level; throws UsageError for a bad DASNET_CPU_ISA.
CpuIsa cpu_isa();
// True when this CPU can run `isa`'s kernels (whatever DASNET_CPU_ISA says).
bool cpu_isa_supported(CpuIsa isa);
// True when DASNET_CPU_ISA asked for a level below what the CPU has.
bool cpu_isa_forced();
const char* cpu_isa_name(CpuIsa isa);
// Channels per block of the blocked activation layout for this ISA (one vector register per
// pixel): 16 on AVX-512 (nChw16c), 8 on AVX2 (nChw8c), 1 (plain NCHW) otherwise.
int cpu_channel_block(CpuIsa isa);
// True when the CPU has AVX512_BF16 (bf16 dot products; AMX machines have it too), which
// --backend cpu --precision bf16 needs for its convolutions.
bool cpu_has_avx512_bf16();

}  // namespace dasnet
