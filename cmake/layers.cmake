# mf_folder(): one folder of sources as one static library, with the folders
# and third-party libraries it may use. The table itself is in the top-level
# CMakeLists.txt; mf_write_layers() writes it out for tests/layering_check.py.

# Optimisation by build type, chosen per folder. Debug: CMake's -g alone
# (-O0). Release, RelWithDebInfo and MinSizeRel:
#   speed  -O2: the folders a message's bytes pass through (parsers, the
#          CRLF and header scanners, the stores' write paths), where -Os
#          stops inlining the small string functions their loops call;
#   size   -Os: per message or per run, not per byte. The kernel maps a
#          binary 64 KB at a time, so every KB of code is resident memory.
# The figures behind this choice are in tests/bench/README.md.
function(mf_optimise target choice)
  if(MF_SANITIZED)
    return() # -O1 for every folder: see MF_SANITIZED in CMakeLists.txt
  endif()
  if(choice STREQUAL "speed")
    set(flag -O2)
  elseif(choice STREQUAL "size")
    set(flag -Os)
  else()
    message(FATAL_ERROR "mf_optimise(${target}): OPTIMISE speed or size, not '${choice}'")
  endif()
  target_compile_options(${target} PRIVATE $<$<CONFIG:Release,RelWithDebInfo,MinSizeRel>:${flag}>)
endfunction()

function(mf_folder target folder)
  cmake_parse_arguments(PARSE_ARGV 2 arg "" "OPTIMISE" "USES;LINKS;HEADERS;EXCLUDE")
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/${folder}/*.cpp)
  foreach(name ${arg_EXCLUDE})
    list(REMOVE_ITEM sources ${CMAKE_SOURCE_DIR}/${folder}/${name})
  endforeach()
  add_library(${target} STATIC ${sources})
  target_link_libraries(${target} PUBLIC mf_settings ${arg_USES} PRIVATE ${arg_LINKS})
  mf_optimise(${target} ${arg_OPTIMISE})
  list(JOIN arg_USES "," uses)
  list(JOIN arg_HEADERS "," headers)
  set_property(GLOBAL APPEND PROPERTY MF_LAYERS "${target} ${folder} uses=${uses} headers=${headers}")
  set_property(GLOBAL APPEND PROPERTY MF_FOLDERS ${folder})
endfunction()

# The table, one folder a line, for the layering test; and every folder
# under backends/ must be in it (a new folder gets its line in the table).
function(mf_write_layers path)
  get_property(layers GLOBAL PROPERTY MF_LAYERS)
  get_property(folders GLOBAL PROPERTY MF_FOLDERS)
  file(GLOB backend_dirs LIST_DIRECTORIES true CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/backends/*)
  foreach(dir ${backend_dirs})
    if(IS_DIRECTORY ${dir})
      file(RELATIVE_PATH rel ${CMAKE_SOURCE_DIR} ${dir})
      if(NOT rel IN_LIST folders)
        message(FATAL_ERROR "${rel} is in no layer: give it an mf_folder() line in CMakeLists.txt")
      endif()
    endif()
  endforeach()
  list(JOIN layers "\n" text)
  file(WRITE ${path} "# target folder uses=targets headers=third-party header prefixes\n${text}\n")
endfunction()
