#include "kernels/cpu_isa.h"

#include <cstdlib>
#include <string>

#include "core/tensor.h"
#include "core/usage_error.h"

namespace dasnet {

namespace {
CpuIsa detected_isa() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
    return CpuIsa::Avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return CpuIsa::Avx2;
  return CpuIsa::Baseline;
}

CpuIsa requested_isa(CpuIsa available) {
  const char* env = std::getenv("DASNET_CPU_ISA");
  if (!env || !*env) return available;
  const std::string name = env;
  CpuIsa wanted;
  if (name == "avx512") wanted = CpuIsa::Avx512;
  else if (name == "avx2") wanted = CpuIsa::Avx2;
  else if (name == "baseline") wanted = CpuIsa::Baseline;
  else throw UsageError("DASNET_CPU_ISA=" + name + ": expected avx512, avx2 or baseline");
  if (int(wanted) > int(available))
    throw UsageError("DASNET_CPU_ISA=" + name + ": this CPU only has " + cpu_isa_name(available));
  return wanted;
}
}  // namespace

CpuIsa cpu_isa() {
  static const CpuIsa isa = requested_isa(detected_isa());
  return isa;
}

bool cpu_isa_supported(CpuIsa isa) {
  static const CpuIsa available = detected_isa();
  return int(isa) <= int(available);
}

bool cpu_isa_forced() { return cpu_isa() != detected_isa(); }

const char* cpu_isa_name(CpuIsa isa) {
  return isa == CpuIsa::Avx512 ? "avx512" : isa == CpuIsa::Avx2 ? "avx2" : "baseline";
}

int cpu_channel_block(CpuIsa isa) { return isa == CpuIsa::Avx512 ? 16 : isa == CpuIsa::Avx2 ? 8 : 1; }

bool cpu_has_avx512_bf16() {
  __builtin_cpu_init();
  return cpu_isa_supported(CpuIsa::Avx512) && __builtin_cpu_supports("avx512bf16");
}

}  // namespace dasnet
