# Writes the generated version header (run at build time, so the git commit is that of the
# sources being built). Inputs: SRC (the .in template), DST, SOURCE_DIR, PROJECT_VERSION,
# BUILD_OPTIONS. configure_file leaves DST untouched when nothing changed.
execute_process(COMMAND git -C "${SOURCE_DIR}" rev-parse HEAD OUTPUT_VARIABLE DELAYPROP_GIT_COMMIT
                OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0 OR DELAYPROP_GIT_COMMIT STREQUAL "")
  set(DELAYPROP_GIT_COMMIT "unknown")
else()
  execute_process(COMMAND git -C "${SOURCE_DIR}" status --porcelain --untracked-files=no
                  OUTPUT_VARIABLE _dirty OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(NOT _dirty STREQUAL "")
    string(APPEND DELAYPROP_GIT_COMMIT "-dirty")
  endif()
endif()
set(DELAYPROP_VERSION "${PROJECT_VERSION}")
set(DELAYPROP_BUILD_OPTIONS "${BUILD_OPTIONS}")
configure_file("${SRC}" "${DST}" @ONLY)
