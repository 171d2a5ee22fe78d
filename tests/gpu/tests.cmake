# GPU device check (tests/gpu/device_check.cpp): CPU vs CUDA backend, determinism, the
# sequence task, and (outside ctest) the benchmark. Without a device it prints
# "SKIP: no CUDA device" and ctest reports the test as skipped.
if(DELAYPROP_HAVE_CUDA)
  add_executable(delayprop-device-check ${CMAKE_CURRENT_LIST_DIR}/device_check.cpp)
  target_link_libraries(delayprop-device-check PRIVATE delayprop_core)
  add_test(NAME gpu.device_check COMMAND delayprop-device-check --skip-bench)
  set_tests_properties(gpu.device_check PROPERTIES LABELS gpu TIMEOUT 600
                       SKIP_REGULAR_EXPRESSION "SKIP: no CUDA device")
  # The CPU halves of the check (harness, sequence task on the CPU) run everywhere.
  add_test(NAME gpu.device_check_cpu_half COMMAND delayprop-device-check --cpu-only --skip-bench)
  set_tests_properties(gpu.device_check_cpu_half PROPERTIES LABELS gpu TIMEOUT 300)
endif()
