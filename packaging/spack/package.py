# Spack recipe for dasnet. Use it from a repository of your own:
#   spack repo create ~/dasnet-repo && mkdir -p ~/dasnet-repo/packages/dasnet
#   cp packaging/spack/package.py ~/dasnet-repo/packages/dasnet/ && spack repo add ~/dasnet-repo
#   spack install dasnet@main +cuda cuda_arch=80 +mpi +nccl +python
# NOT RUN: there is no Spack on the development or CI machines; only its Python syntax was checked
# (python3 -m py_compile). See packaging/README.md.

from spack.package import *


class Dasnet(CMakePackage, CudaPackage):
    """Deep learning engine for Distributed Acoustic Sensing: ResNet classifiers of usable
    energy in fiber records, sweeps, data-parallel training and usable-energy maps."""

    homepage = "https://example.invalid/dasnet"  # no public home yet: point git at your clone
    git = "file:///path/to/dasnet"

    version("main", branch="main")

    variant("mpi", default=True, description="Data-parallel training across MPI ranks")
    variant("nccl", default=True, when="+cuda", description="NCCL communicator for GPU ranks")
    # The Python side today: h5py and NumPy to read dasnet checkpoints (README, "From Python").
    variant("python", default=False, description="h5py and NumPy to read checkpoints from Python")

    depends_on("cxx", type="build")
    depends_on("cmake@3.20:", type="build")
    depends_on("onednn")
    depends_on("hdf5@1.10: ~mpi")
    depends_on("cli11@2:")
    depends_on("nlohmann-json@3.10:")
    depends_on("tomlplusplus@3:")
    depends_on("sqlite@3:")
    depends_on("libpng")

    depends_on("mpi", when="+mpi")
    depends_on("cuda@11.8:", when="+cuda")
    depends_on("cudnn@8.9:", when="+cuda")
    depends_on("nccl", when="+nccl")
    depends_on("python@3.9:", when="+python", type="run")
    depends_on("py-h5py", when="+python", type="run")
    depends_on("py-numpy", when="+python", type="run")

    def cmake_args(self):
        spec = self.spec
        args = [
            self.define_from_variant("DASNET_WITH_CUDA", "cuda"),
            self.define_from_variant("DASNET_WITH_MPI", "mpi"),
            self.define("DASNET_WITH_NCCL", spec.satisfies("+nccl")),
            self.define("DASNET_BUILD_TESTS", False),
            self.define("DASNET_FUZZ", False),
            # Spack builds from a staged tree without .git: name the commit it fetched.
            self.define("DASNET_GIT_COMMIT", str(spec.version)),
        ]
        if spec.satisfies("+cuda"):
            args.append(self.define("CUDNN_ROOT", spec["cudnn"].prefix))
            archs = spec.variants["cuda_arch"].value
            if archs and archs[0] != "none":
                args.append(self.define("CMAKE_CUDA_ARCHITECTURES", ";".join(archs)))
        return args

    def setup_build_environment(self, env):
        if self.spec.satisfies("+nccl"):
            env.set("NCCL_HOME", self.spec["nccl"].prefix)
