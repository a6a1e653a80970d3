# Script mode (cmake -DSOURCE_DIR=... -DOUTPUT=... [-DCOMMIT=...] -P GitCommit.cmake), run at
# every build: writes the source tree's commit into OUTPUT for `dasnet --version`. The file is
# rewritten only when the commit changes, so an unchanged tree recompiles nothing. A tree that is
# not a git checkout (a release tarball, a Spack build) says "unknown" unless COMMIT is given.
if(NOT COMMIT)
  execute_process(COMMAND git -C "${SOURCE_DIR}" rev-parse --short=12 HEAD
                  OUTPUT_VARIABLE COMMIT OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR NOT COMMIT)
    set(COMMIT "unknown")
  else()
    # Tracked files changed since the commit: say so, the binary is not that commit.
    execute_process(COMMAND git -C "${SOURCE_DIR}" diff --quiet HEAD -- RESULT_VARIABLE dirty ERROR_QUIET)
    if(dirty EQUAL 1)
      string(APPEND COMMIT "-dirty")
    endif()
  endif()
endif()
set(content "// Generated at build time by cmake/GitCommit.cmake.\n#pragma once\n#define DASNET_GIT_COMMIT \"${COMMIT}\"\n")
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" old)
endif()
if(NOT old STREQUAL content)
  file(WRITE "${OUTPUT}" "${content}")
endif()
