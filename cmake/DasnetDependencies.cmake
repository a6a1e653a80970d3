# Every library dasnet can use, looked for once here so that each folder's CMakeLists.txt only
# declares targets, and the configure summary sees every result. Required: OpenMP. The rest is
# optional, and what is missing is said in a line here and in the summary at the end.

find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(Threads REQUIRED)

# --- CPU math library: oneDNN (Debian: libdnnl-dev) for the fast convolution path ------
find_path(DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.hpp)
find_library(DNNL_LIBRARY NAMES dnnl)
if(DNNL_INCLUDE_DIR AND DNNL_LIBRARY)
  set(DASNET_HAVE_DNNL ON)
  message(STATUS "dasnet: oneDNN found (${DNNL_LIBRARY}): fast CPU convolutions enabled")
else()
  set(DASNET_HAVE_DNNL OFF)
  message(WARNING "dasnet: oneDNN not found: the fast CPU backend falls back to the reference kernels")
endif()

# --- HDF5 (checkpoints, DAS formats, data sets). Optional so a GPU-only box can build. --
find_package(HDF5 COMPONENTS C)
if(HDF5_FOUND)
  set(DASNET_HAVE_HDF5 ON)
else()
  set(DASNET_HAVE_HDF5 OFF)
  message(WARNING "dasnet: HDF5 not found: checkpoints and DAS file readers are disabled")
endif()

if(DASNET_WITH_MPI)
  find_package(MPI COMPONENTS CXX)
endif()

# CUDA backend (kernels/cuda): needs nvcc, cuBLAS and cuDNN >= 8.9; everything else builds without.
include(cmake/DasnetCuda.cmake)

# NCCL (with the CUDA backend): GPU ranks reduce device memory. Looked for in NCCL_HOME, the
# CUDA toolkit, the system and the pip package nvidia-nccl-cu1x (<site-packages>/nvidia/nccl).
if(DASNET_HAVE_CUDA AND DASNET_WITH_NCCL)
  execute_process(
    COMMAND python3 -c "import nvidia.nccl as m; print(list(m.__path__)[0])"
    OUTPUT_VARIABLE _dasnet_pip_nccl OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  find_path(NCCL_INCLUDE_DIR nccl.h HINTS ENV NCCL_HOME ${CUDAToolkit_INCLUDE_DIRS} ${_dasnet_pip_nccl}
            PATH_SUFFIXES include)
  find_library(NCCL_LIBRARY NAMES nccl libnccl.so.2 HINTS ENV NCCL_HOME ${CUDAToolkit_LIBRARY_DIR} ${_dasnet_pip_nccl}
               PATH_SUFFIXES lib lib64)
endif()

find_package(nlohmann_json 3 QUIET)
find_package(CLI11 QUIET)
find_path(CLI11_INCLUDE_DIR CLI/CLI.hpp)
if(NOT CLI11_INCLUDE_DIR AND DASNET_HAVE_HDF5)
  message(FATAL_ERROR "CLI11 headers not found (Debian: libcli11-dev)")
endif()
find_package(PNG)

# Non-HDF5 DAS formats through the field's libraries (optional: without them the files are
# still recognised and `dasnet inspect` says what to install): segyio for SEG-Y (Debian
# libsegyio-dev), libmseed for miniSEED (libmseed-dev).
# (Debian's segyio-config.cmake names no library for Release builds: found by hand.)
find_path(SEGYIO_INCLUDE_DIR segyio/segy.h)
find_library(SEGYIO_LIBRARY segyio)
if(SEGYIO_INCLUDE_DIR AND SEGYIO_LIBRARY)
  set(DASNET_HAVE_SEGYIO ON)
else()
  message(WARNING "dasnet: segyio not found: SEG-Y files are recognised but not read")
endif()
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(MSEED QUIET IMPORTED_TARGET mseed)
  # Debian: libzip-dev. Its CMake package needs the zip tools installed too; pkg-config does not.
  pkg_check_modules(LIBZIP QUIET IMPORTED_TARGET libzip)
endif()
if(NOT MSEED_FOUND)
  message(WARNING "dasnet: libmseed not found: miniSEED files are recognised but not read")
endif()
find_package(Protobuf)  # Debian: libprotobuf-dev, protobuf-compiler

# Sweeps: spec parsing (TOML, Debian: libtomlplusplus-dev) and the SQLite ledger (libsqlite3-dev).
if(DASNET_HAVE_HDF5)
  find_package(SQLite3 REQUIRED)
  find_package(tomlplusplus REQUIRED)
endif()

if(DASNET_BUILD_TESTS)
  find_package(GTest)
  if(NOT GTest_FOUND)
    message(WARNING "dasnet: GoogleTest not found: building without tests")
    set(DASNET_BUILD_TESTS OFF)
  endif()
  find_package(Perl)
  find_program(DASNET_CLANGXX NAMES clang++ clang++-16 clang++-15 clang++-14)
endif()

if(DASNET_PYTHON AND DASNET_HAVE_HDF5)
  find_package(Python COMPONENTS Interpreter Development.Module)
  if(Python_FOUND)
    find_package(pybind11 2.10 CONFIG)
  endif()
endif()
