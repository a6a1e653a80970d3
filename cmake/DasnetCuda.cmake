# The optional CUDA backend. Sets DASNET_HAVE_CUDA and, when on, the target dasnet_cuda
# (kernels/cuda: hand-written kernels, cuBLAS, cuDNN). Needs CUDA >= 11.8 and cuDNN >= 8.9.
# cuDNN is looked for in CUDNN_ROOT, the CUDA toolkit, the system, and the pip package
# nvidia-cudnn-cu1x (<site-packages>/nvidia/cudnn/{include,lib}) of the python3 on PATH.
set(DASNET_HAVE_CUDA OFF)
if(NOT DASNET_WITH_CUDA)
  return()
endif()

include(CheckLanguage)
check_language(CUDA)
if(NOT CMAKE_CUDA_COMPILER)
  message(STATUS "dasnet: no CUDA compiler found: building without the CUDA backend")
  return()
endif()

# Default architectures, chosen before enable_language(CUDA) fixes them: the visible GPU's own
# (`native`, CMake >= 3.24) when nvidia-smi sees one, else a list this toolkit can target
# (CUDA 13 dropped sm_70; hard-coded lists break on newer toolkits, so derive it).
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES AND NOT DEFINED ENV{CUDAARCHS})
  execute_process(COMMAND ${CMAKE_CUDA_COMPILER} --version OUTPUT_VARIABLE _dasnet_nvcc_version ERROR_QUIET)
  string(REGEX MATCH "release ([0-9]+)\\.([0-9]+)" _dasnet_release "${_dasnet_nvcc_version}")
  set(_dasnet_cuda_major "${CMAKE_MATCH_1}")
  execute_process(COMMAND nvidia-smi -L RESULT_VARIABLE _dasnet_smi_rc OUTPUT_VARIABLE _dasnet_smi_out ERROR_QUIET)
  if(_dasnet_smi_rc EQUAL 0 AND _dasnet_smi_out MATCHES "GPU" AND CMAKE_VERSION VERSION_GREATER_EQUAL 3.24)
    set(_dasnet_arch native)
  elseif(_dasnet_cuda_major AND _dasnet_cuda_major GREATER_EQUAL 13)
    set(_dasnet_arch 75 80 90)
  else()
    set(_dasnet_arch 70 80 90)
  endif()
  set(CMAKE_CUDA_ARCHITECTURES ${_dasnet_arch} CACHE STRING "CUDA architectures to build for")
  message(STATUS "dasnet: CUDA architectures ${CMAKE_CUDA_ARCHITECTURES} (CUDA ${_dasnet_cuda_major})")
endif()

enable_language(CUDA)
set(CMAKE_CUDA_STANDARD 17)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
find_package(CUDAToolkit)
if(NOT CUDAToolkit_FOUND)
  message(WARNING "dasnet: nvcc found but not the CUDA toolkit libraries: building without the CUDA backend")
  return()
endif()
if(CUDAToolkit_VERSION VERSION_LESS 11.8)
  message(WARNING "dasnet: CUDA ${CUDAToolkit_VERSION} is older than 11.8: building without the CUDA backend")
  return()
endif()

set(CUDNN_ROOT "$ENV{CUDNN_ROOT}" CACHE PATH "cuDNN installation (include/ and lib/)")
execute_process(
  COMMAND python3 -c "import nvidia.cudnn as m; print(list(m.__path__)[0])"
  OUTPUT_VARIABLE _dasnet_pip_cudnn OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
set(_dasnet_cudnn_hints ${CUDNN_ROOT} ${_dasnet_pip_cudnn} ${CUDAToolkit_LIBRARY_ROOT} ${CUDAToolkit_TARGET_DIR})
find_path(CUDNN_INCLUDE_DIR cudnn.h HINTS ${_dasnet_cudnn_hints} ${CUDAToolkit_INCLUDE_DIRS} PATH_SUFFIXES include)
# The pip package ships only the versioned name libcudnn.so.9.
find_library(CUDNN_LIBRARY NAMES cudnn libcudnn.so.9 libcudnn.so.8
             HINTS ${_dasnet_cudnn_hints} ${CUDAToolkit_LIBRARY_DIR} PATH_SUFFIXES lib lib64 lib/x64)
if(NOT CUDNN_INCLUDE_DIR OR NOT CUDNN_LIBRARY)
  message(WARNING "dasnet: cuDNN not found (set CUDNN_ROOT, or pip install nvidia-cudnn-cu12): "
                  "building without the CUDA backend")
  return()
endif()
set(_dasnet_cudnn_version_header "${CUDNN_INCLUDE_DIR}/cudnn_version.h")
if(EXISTS "${_dasnet_cudnn_version_header}")
  file(STRINGS "${_dasnet_cudnn_version_header}" _dasnet_cudnn_lines REGEX "define CUDNN_(MAJOR|MINOR) ")
  string(REGEX MATCH "CUDNN_MAJOR ([0-9]+)" _m "${_dasnet_cudnn_lines}")
  set(_dasnet_cudnn_major ${CMAKE_MATCH_1})
  string(REGEX MATCH "CUDNN_MINOR ([0-9]+)" _m "${_dasnet_cudnn_lines}")
  set(DASNET_CUDNN_VERSION "${_dasnet_cudnn_major}.${CMAKE_MATCH_1}")
  if(DASNET_CUDNN_VERSION VERSION_LESS 8.9)
    message(WARNING "dasnet: cuDNN ${DASNET_CUDNN_VERSION} is older than 8.9: building without the CUDA backend")
    return()
  endif()
endif()

file(GLOB DASNET_CUDA_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/kernels/cuda/*.cu
     ${CMAKE_SOURCE_DIR}/kernels/cuda/*.cpp)
add_library(dasnet_cuda STATIC ${DASNET_CUDA_SOURCES})
target_include_directories(dasnet_cuda PUBLIC $<BUILD_INTERFACE:${CMAKE_SOURCE_DIR}>
                           $<BUILD_INTERFACE:${CMAKE_BINARY_DIR}/generated> $<INSTALL_INTERFACE:include/dasnet>)
target_include_directories(dasnet_cuda PRIVATE ${CUDNN_INCLUDE_DIR})
target_link_libraries(dasnet_cuda PUBLIC CUDA::cudart CUDA::cublas PRIVATE ${CUDNN_LIBRARY})
# Host code warning-clean like the rest; nvcc passes these to the host compiler.
target_compile_options(dasnet_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra>)
set_target_properties(dasnet_cuda PROPERTIES POSITION_INDEPENDENT_CODE ON CUDA_SEPARABLE_COMPILATION OFF)
set(DASNET_HAVE_CUDA ON)
message(STATUS "dasnet: CUDA backend enabled (CUDA ${CUDAToolkit_VERSION}, cuDNN ${DASNET_CUDNN_VERSION} "
               "${CUDNN_LIBRARY}, architectures ${CMAKE_CUDA_ARCHITECTURES})")
