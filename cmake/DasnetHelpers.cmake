# dasnet_add_library(<name> SOURCES <files...> [PUBLIC <libs...>] [PRIVATE <libs...>])
# One of dasnet's static libraries. The source tree's root and the generated headers come with
# dasnet_core, which every library links, so sources include "core/tensor.h", "io/dataset.h"...
function(dasnet_add_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC;PRIVATE" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_link_libraries(${name} PUBLIC ${ARG_PUBLIC} PRIVATE ${ARG_PRIVATE})
endfunction()

# The folder's own sources: every .cpp file in it (CONFIGURE_DEPENDS: a new file needs no edit here).
macro(dasnet_folder_sources out)
  file(GLOB ${out} CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
endmacro()
