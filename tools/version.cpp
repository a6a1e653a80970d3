#include "tools/version.h"

#include "dasnet/build_config.h"
#include "dasnet/git_commit.h"
#include "kernels/cpu_isa.h"

namespace dasnet {

namespace {
std::string with_version(bool built, const char* version) {
  if (!built) return "no";
  std::string v = version;
  return v.empty() ? "yes" : "yes (" + v + ")";
}
}  // namespace

std::string version_report() {
  // The detected level, not a DASNET_CPU_ISA override: a bad override must not break --version.
  std::string isa = "baseline";
  if (cpu_isa_supported(CpuIsa::Avx512)) isa = cpu_isa_name(CpuIsa::Avx512);
  else if (cpu_isa_supported(CpuIsa::Avx2)) isa = cpu_isa_name(CpuIsa::Avx2);
  std::string report = "dasnet " DASNET_VERSION "\n";
  report += "commit: " DASNET_GIT_COMMIT "\n";
  report += "cpu isa: " + isa + "\n";
  report += std::string("onednn: ") + (DASNET_HAVE_DNNL ? "yes" : "no") + "\n";
  report += "hdf5: " + with_version(DASNET_HAVE_HDF5, DASNET_HDF5_VERSION) + "\n";
  report += "cuda: " + with_version(DASNET_HAVE_CUDA, DASNET_CUDA_VERSION) + "\n";
  report += "cudnn: " + with_version(DASNET_HAVE_CUDA, DASNET_CUDNN_VERSION) + "\n";
  report += std::string("nccl: ") + (DASNET_BUILT_WITH_NCCL ? "yes" : "no") + "\n";
  report += std::string("mpi: ") + (DASNET_BUILT_WITH_MPI ? "yes" : "no");
  return report;
}

}  // namespace dasnet
