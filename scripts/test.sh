#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine: installs what is missing, builds, and runs
# every test (GoogleTest through CTest, the MPI tests under mpirun, the bounded fuzz run).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
cd "$root/build"
# Open MPI refuses root without these; CI and the development machines run as root.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Tests run side by side (and MPI tests oversubscribe the cores): OpenMP threads that spin while
# waiting steal the cores from each other's processes (a 0.3 s test took 40 s); let them sleep.
export OMP_WAIT_POLICY=PASSIVE
ctest --output-on-failure -j"$(nproc)" --timeout 900
