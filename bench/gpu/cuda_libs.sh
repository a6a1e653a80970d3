# Sourced by the GPU scripts: where the GPU machine's CUDA libraries are. cuDNN and NCCL come
# from pip wheels there (nvidia.cudnn, nvidia.nccl); CMake is given CUDNN_ROOT and finds NCCL by
# itself, and the loader needs both folders on LD_LIBRARY_PATH at run time.
export PATH=$PATH:/usr/local/cuda/bin
CUDNN_ROOT=$(python3 -c "import nvidia.cudnn as m; print(list(m.__path__)[0])" 2>/dev/null || true)
NCCL_ROOT=$(python3 -c "import nvidia.nccl as m; print(list(m.__path__)[0])" 2>/dev/null || true)
for cuda_lib_dir in "$CUDNN_ROOT/lib" "$NCCL_ROOT/lib"; do
  [ -d "$cuda_lib_dir" ] && export LD_LIBRARY_PATH=$cuda_lib_dir:${LD_LIBRARY_PATH:-}
done
CUDNN_CMAKE_ARGS=()
[ -n "$CUDNN_ROOT" ] && CUDNN_CMAKE_ARGS=(-DCUDNN_ROOT="$CUDNN_ROOT")
