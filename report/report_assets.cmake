# The HTML report's scripts, inlined into joulebench at build time (docs/report.md):
# Vega, Vega-Lite and vega-embed from npm (report/web/package.json, pinned by
# report/web/package-lock.json; `make deps` runs `npm ci` there), and the page's own script and
# style (report/web/report.js, report.css). embed_assets.cmake writes them into a generated C++
# source as raw string literals; the page then loads nothing from anywhere.

set(JOULEBENCH_REPORT_WEB ${PROJECT_SOURCE_DIR}/report/web)
set(JOULEBENCH_REPORT_ASSETS
    vega=${JOULEBENCH_REPORT_WEB}/node_modules/vega/build/vega.min.js
    vega_lite=${JOULEBENCH_REPORT_WEB}/node_modules/vega-lite/build/vega-lite.min.js
    vega_embed=${JOULEBENCH_REPORT_WEB}/node_modules/vega-embed/build/vega-embed.min.js
    report_js=${JOULEBENCH_REPORT_WEB}/report.js
    report_css=${JOULEBENCH_REPORT_WEB}/report.css)

set(_jb_asset_files "")
foreach(_jb_asset IN LISTS JOULEBENCH_REPORT_ASSETS)
    string(REGEX REPLACE "^[^=]*=" "" _jb_file "${_jb_asset}")
    if(NOT EXISTS "${_jb_file}")
        message(FATAL_ERROR
            "report: ${_jb_file} is missing: the HTML report inlines Vega, Vega-Lite and "
            "vega-embed from npm.\n"
            "Run `make deps` (or `npm ci --prefix report/web`) and configure again.")
    endif()
    list(APPEND _jb_asset_files "${_jb_file}")
endforeach()

set(_jb_assets_cpp ${PROJECT_BINARY_DIR}/generated/report_assets.cpp)
# Commas, not semicolons, between the assets: a CMake list would be split into arguments.
string(REPLACE ";" "," _jb_assets_arg "${JOULEBENCH_REPORT_ASSETS}")
add_custom_command(
    OUTPUT ${_jb_assets_cpp}
    COMMAND ${CMAKE_COMMAND} "-DASSETS=${_jb_assets_arg}" "-DOUTPUT=${_jb_assets_cpp}"
            -P ${PROJECT_SOURCE_DIR}/report/embed_assets.cmake
    DEPENDS ${_jb_asset_files} ${PROJECT_SOURCE_DIR}/report/embed_assets.cmake
    COMMENT "Inlining the HTML report's scripts (Vega, Vega-Lite, vega-embed, report.js)"
    VERBATIM)
target_sources(joulebench_report PRIVATE ${_jb_assets_cpp})
