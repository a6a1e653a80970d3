// The MPI communicator (CPU ranks). Declared for every build so callers need no #ifdef; only
// defined when dasnet is built with MPI.
#pragma once
#include <memory>

#include "dist/communicator.h"

namespace dasnet {

#ifdef DASNET_HAVE_MPI
// Initializes MPI (thread level MULTIPLE when the library offers it) on first use and finalizes
// it at exit; duplicates MPI_COMM_WORLD with MPI_ERRORS_RETURN so failures become messages.
std::unique_ptr<Communicator> make_mpi_communicator(const CommOptions& options);
#endif

}  // namespace dasnet
