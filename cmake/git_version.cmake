# The version of a build, from git (docs/install.md, "Versions"):
#   - at a tag vX.Y.Z:                  X.Y.Z
#   - N commits after tag vX.Y.Z:       X.Y.Z+gitN.gSHA
#   - no tag (or no tags fetched):      BASE+gitN.gSHA, N the commit count, BASE project()'s version
#   - no git (a source tarball):        BASE
# Debian orders these correctly ("+" sorts after the release it follows). A tree with local
# changes keeps the version; joulebench_git_version says so in DIRTY, and `--version` shows it.
function(joulebench_git_version source_dir base out_version out_commit out_dirty)
    set(version "${base}")
    set(commit "unknown")
    set(dirty "")
    find_program(JOULEBENCH_GIT git)
    if(JOULEBENCH_GIT AND EXISTS "${source_dir}/.git")
        execute_process(COMMAND "${JOULEBENCH_GIT}" -C "${source_dir}" rev-parse HEAD
                        OUTPUT_VARIABLE head RESULT_VARIABLE rc ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
        if(rc EQUAL 0)
            set(commit "${head}")
            string(SUBSTRING "${head}" 0 12 short)
            execute_process(COMMAND "${JOULEBENCH_GIT}" -C "${source_dir}" describe --tags --match "v[0-9]*" --long
                            OUTPUT_VARIABLE described RESULT_VARIABLE rc ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
            if(rc EQUAL 0 AND described MATCHES "^v([0-9][^-]*)-([0-9]+)-g[0-9a-f]+$")
                set(version "${CMAKE_MATCH_1}")
                if(NOT CMAKE_MATCH_2 EQUAL 0)
                    set(version "${version}+git${CMAKE_MATCH_2}.g${short}")
                endif()
            else()
                execute_process(COMMAND "${JOULEBENCH_GIT}" -C "${source_dir}" rev-list --count HEAD
                                OUTPUT_VARIABLE count ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
                set(version "${base}+git${count}.g${short}")
            endif()
            execute_process(COMMAND "${JOULEBENCH_GIT}" -C "${source_dir}" status --porcelain --untracked-files=no
                            OUTPUT_VARIABLE changes ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
            if(NOT changes STREQUAL "")
                set(dirty "local changes")
            endif()
        endif()
    endif()
    set(${out_version} "${version}" PARENT_SCOPE)
    set(${out_commit} "${commit}" PARENT_SCOPE)
    set(${out_dirty} "${dirty}" PARENT_SCOPE)
endfunction()
