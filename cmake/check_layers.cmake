# The layering check of one part of src/ (docs/architecture.md), run by the build before the part's
# library links (cmake/joulebench_parts.cmake). Every `#include "..."` of the part's files must name
# a header of the part itself or of a part below it: an upward include fails the build here, with
# the file, the line and what the part may include.
#
#   cmake -DPART=stats -DALLOWED="stats;common" -DOWNERS="error.hpp=common;..." \
#         -DFILES="a.cpp;b.hpp" -DSOURCE_DIR=... -DSTAMP=file -P check_layers.cmake
#
# Includes of "joulebench/X.hpp" (the public headers) are owned by the part OWNERS names; other
# includes "P/..." by part P when src/P is a part; includes without a folder (same folder) and
# system headers (<...>) are not checked.

foreach(var PART ALLOWED OWNERS FILES SOURCE_DIR STAMP PARTS)
    if(NOT DEFINED ${var})
        message(FATAL_ERROR "check_layers.cmake: -D${var}=... is missing")
    endif()
endforeach()
string(REPLACE "," ";" ALLOWED "${ALLOWED}")
string(REPLACE "," ";" OWNERS "${OWNERS}")
string(REPLACE "," ";" FILES "${FILES}")
string(REPLACE "," ";" PARTS "${PARTS}")

set(problems "")
foreach(file IN LISTS FILES)
    # One list item per line, line numbers exact: the characters CMake lists treat specially
    # (semicolons, square brackets) are replaced first; include lines never have them.
    file(READ "${file}" content)
    string(REGEX REPLACE "[][;\\]" "_" content "${content}")
    string(REPLACE "\n" ";" lines "${content}")
    file(RELATIVE_PATH shown "${SOURCE_DIR}" "${file}")
    set(number 0)
    foreach(line IN LISTS lines)
        math(EXPR number "${number} + 1")
        if(NOT line MATCHES "^[ \t]*#[ \t]*include[ \t]*\"([^\"]+)\"")
            continue()
        endif()
        set(included "${CMAKE_MATCH_1}")
        set(owner "")
        if(included MATCHES "^joulebench/(.+)$")
            set(header "${CMAKE_MATCH_1}")
            foreach(entry IN LISTS OWNERS)
                if(entry MATCHES "^([^=]+)=(.+)$" AND CMAKE_MATCH_1 STREQUAL header)
                    set(owner "${CMAKE_MATCH_2}")
                endif()
            endforeach()
            if(owner STREQUAL "")
                string(CONCAT problem "${shown}:${number}: error: includes \"${included}\", a "
                       "public header no part owns (add it to the HEADERS of its part in "
                       "CMakeLists.txt)")
                list(APPEND problems "${problem}")
                continue()
            endif()
        elseif(included MATCHES "^([^/]+)/")
            list(FIND PARTS "${CMAKE_MATCH_1}" known)
            if(known LESS 0)
                continue()  # not a part of src/ (e.g. a folder of the same part's own)
            endif()
            set(owner "${CMAKE_MATCH_1}")
        else()
            continue()
        endif()
        list(FIND ALLOWED "${owner}" ok)
        if(ok LESS 0)
            string(REPLACE ";" ", " allowed_text "${ALLOWED}")
            string(CONCAT problem "${shown}:${number}: error: includes \"${included}\" of part "
                   "'${owner}', which is not below '${PART}' (${PART} may include: "
                   "${allowed_text})")
            list(APPEND problems "${problem}")
        endif()
    endforeach()
endforeach()

if(problems)
    # NOTICE: on stderr as written (FATAL_ERROR would re-wrap the lines), one compiler-style line
    # per problem so that editors can jump to it.
    foreach(problem IN LISTS problems)
        message(NOTICE "${problem}")
    endforeach()
    message(FATAL_ERROR "layers: src/${PART} includes a part above it (docs/architecture.md). "
                        "Move the code to the part that owns it, or pass the data down instead.")
endif()
file(WRITE "${STAMP}" "ok\n")
