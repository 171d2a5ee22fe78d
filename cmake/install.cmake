# `cmake --install BUILD --prefix P` installs the drivers, the layer libraries, their headers
# (P/include/delayprop, included as "core/...", "kernels/...", ...), the configs and SLURM
# templates (P/share/delayprop) and a CMake package: another project writes
#   find_package(delayprop REQUIRED)
#   target_link_libraries(app PRIVATE delayprop::train)   # or delayprop::engine, ...
# tests/install builds and runs such a consumer against an installed tree.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(_dp_libs delayprop_core delayprop_backend_common delayprop_engine delayprop_bench delayprop_dist_runtime
    delayprop_dist delayprop_io delayprop_train delayprop_sweep)
if(TARGET delayprop_cuda)
  list(APPEND _dp_libs delayprop_cuda)
endif()
foreach(lib ${_dp_libs})
  string(REPLACE "delayprop_" "" short ${lib})
  set_target_properties(${lib} PROPERTIES EXPORT_NAME ${short})
endforeach()
install(TARGETS ${_dp_libs} EXPORT delayprop-targets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
list(TRANSFORM DELAYPROP_DRIVERS PREPEND delayprop- OUTPUT_VARIABLE _dp_drivers)
install(TARGETS ${_dp_drivers} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY src/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/delayprop FILES_MATCHING PATTERN "*.hpp")
install(DIRECTORY configs slurm DESTINATION ${CMAKE_INSTALL_DATADIR}/delayprop)
install(EXPORT delayprop-targets NAMESPACE delayprop:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/delayprop)
configure_package_config_file(cmake/delayprop-config.cmake.in ${PROJECT_BINARY_DIR}/delayprop-config.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/delayprop)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/delayprop-config-version.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/delayprop-config.cmake ${PROJECT_BINARY_DIR}/delayprop-config-version.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/delayprop)
