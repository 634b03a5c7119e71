# The parts of src/, one static library each, linked only downward (docs/architecture.md).
#
#   joulebench_part(NAME [DEPENDS PART...] [HEADERS public-header...] [EXCLUDE regex...])
#
# builds src/NAME/**/*.cpp into the library joulebench_NAME, links it to the libraries of the parts
# it DEPENDS on (which must be declared before it, so the graph cannot have a cycle), and makes the
# part own HEADERS of include/joulebench/. joulebench_check_layers(), called once after the last
# part, adds the layering check: before a part's library is built, cmake/check_layers.cmake reads
# every include of the part's files, and one of a part that is not NAME or below it fails the
# build.

set(JOULEBENCH_PARTS "")
set(JOULEBENCH_HEADER_OWNERS "")

function(joulebench_part name)
    cmake_parse_arguments(PART "" "" "DEPENDS;HEADERS;EXCLUDE" ${ARGN})
    set(allowed ${name})
    foreach(dep IN LISTS PART_DEPENDS)
        if(NOT TARGET joulebench_${dep})
            message(FATAL_ERROR "joulebench_part(${name}): part '${dep}' must be declared before it")
        endif()
        get_property(below GLOBAL PROPERTY JOULEBENCH_PART_ALLOWED_${dep})
        list(APPEND allowed ${below})
    endforeach()
    list(REMOVE_DUPLICATES allowed)
    set_property(GLOBAL PROPERTY JOULEBENCH_PART_ALLOWED_${name} ${allowed})

    set_property(GLOBAL PROPERTY JOULEBENCH_PART_FILES_${name} "")
    set(owners ${JOULEBENCH_HEADER_OWNERS})
    foreach(header IN LISTS PART_HEADERS)
        if(NOT EXISTS ${PROJECT_SOURCE_DIR}/include/joulebench/${header})
            message(FATAL_ERROR "joulebench_part(${name}): include/joulebench/${header} does not exist")
        endif()
        list(APPEND owners "${header}=${name}")
    endforeach()
    set(JOULEBENCH_HEADER_OWNERS ${owners} PARENT_SCOPE)
    set(parts ${JOULEBENCH_PARTS} ${name})
    set(JOULEBENCH_PARTS ${parts} PARENT_SCOPE)

    file(GLOB_RECURSE sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/${name}/*.cpp)
    file(GLOB_RECURSE files CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/${name}/*.cpp
         ${PROJECT_SOURCE_DIR}/src/${name}/*.hpp)
    foreach(header IN LISTS PART_HEADERS)
        list(APPEND files ${PROJECT_SOURCE_DIR}/include/joulebench/${header})
    endforeach()
    foreach(regex IN LISTS PART_EXCLUDE)
        list(FILTER sources EXCLUDE REGEX "${regex}")
    endforeach()

    set_property(GLOBAL PROPERTY JOULEBENCH_PART_FILES_${name} ${files})
    add_library(joulebench_${name} STATIC ${sources})
    target_include_directories(joulebench_${name}
        PUBLIC ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/src)
    target_compile_definitions(joulebench_${name} PUBLIC JOULEBENCH_VERSION="${PROJECT_VERSION}")
    target_link_libraries(joulebench_${name} PRIVATE joulebench_warnings)
    foreach(dep IN LISTS PART_DEPENDS)
        target_link_libraries(joulebench_${name} PUBLIC joulebench_${dep})
    endforeach()

endfunction()

# The layering check of every part declared so far (see above). Its stamp is a source of the part's
# library, so it runs before the library is made and stops the build when it fails. Lists are
# passed with commas (a CMake list would be split into arguments).
function(joulebench_check_layers)
    # Every folder of src/ is a part, declared or not: an include of an undeclared folder is
    # reported too (it is below nothing).
    file(GLOB children LIST_DIRECTORIES true ${PROJECT_SOURCE_DIR}/src/*)
    set(folders "")
    foreach(child IN LISTS children)
        if(IS_DIRECTORY ${child})
            get_filename_component(folder ${child} NAME)
            list(APPEND folders ${folder})
        endif()
    endforeach()
    string(REPLACE ";" "," parts_arg "${folders}")
    # Every public header belongs to a part (and is checked with it).
    file(GLOB headers ${PROJECT_SOURCE_DIR}/include/joulebench/*.hpp)
    foreach(header IN LISTS headers)
        get_filename_component(header ${header} NAME)
        if(NOT "${JOULEBENCH_HEADER_OWNERS}" MATCHES "(^|;)${header}=")
            message(FATAL_ERROR "include/joulebench/${header} belongs to no part: add it to the "
                                "HEADERS of its joulebench_part() in CMakeLists.txt")
        endif()
    endforeach()
    string(REPLACE ";" "," owners_arg "${JOULEBENCH_HEADER_OWNERS}")
    foreach(name IN LISTS JOULEBENCH_PARTS)
        get_property(allowed GLOBAL PROPERTY JOULEBENCH_PART_ALLOWED_${name})
        get_property(files GLOBAL PROPERTY JOULEBENCH_PART_FILES_${name})
        set(stamp ${PROJECT_BINARY_DIR}/layers/${name}.ok)
        string(REPLACE ";" "," allowed_arg "${allowed}")
        string(REPLACE ";" "," files_arg "${files}")
        add_custom_command(
            OUTPUT ${stamp}
            COMMAND ${CMAKE_COMMAND} "-DPART=${name}" "-DALLOWED=${allowed_arg}"
                    "-DOWNERS=${owners_arg}" "-DFILES=${files_arg}" "-DPARTS=${parts_arg}"
                    "-DSOURCE_DIR=${PROJECT_SOURCE_DIR}" "-DSTAMP=${stamp}"
                    -P ${PROJECT_SOURCE_DIR}/cmake/check_layers.cmake
            DEPENDS ${files} ${PROJECT_SOURCE_DIR}/cmake/check_layers.cmake
                    ${PROJECT_SOURCE_DIR}/CMakeLists.txt
            COMMENT "Checking the includes of src/${name} (layers)"
            VERBATIM)
        target_sources(joulebench_${name} PRIVATE ${stamp})
    endforeach()
endfunction()
