# GPU checks.
# - delayprop-device-check (with CUDA): CPU vs CUDA backend, determinism, tape growth, the
#   sequence task, and (outside ctest) the benchmark. Without a device it prints
#   "SKIP: no CUDA device" and ctest reports the test as skipped.
# - delayprop-device-check-emu (always): the same checks with the CUDA kernels compiled as
#   C++ and run on CPU threads (cuda_emu.hpp), so that the kernel logic is tested on
#   machines without a GPU. 64 threads per block; about 1-2 minutes.
if(DELAYPROP_HAVE_CUDA)
  add_executable(delayprop-device-check ${CMAKE_CURRENT_LIST_DIR}/device_check.cpp)
  target_link_libraries(delayprop-device-check PRIVATE delayprop_engine)
  target_include_directories(delayprop-device-check PRIVATE ${PROJECT_SOURCE_DIR}/tests/support)
  add_test(NAME gpu.device_check COMMAND delayprop-device-check --skip-bench)
  set_tests_properties(gpu.device_check PROPERTIES LABELS gpu TIMEOUT 600
                       SKIP_REGULAR_EXPRESSION "SKIP: no CUDA device")
endif()

find_package(Threads REQUIRED)
add_executable(delayprop-device-check-emu ${CMAKE_CURRENT_LIST_DIR}/device_check.cpp
               ${CMAKE_CURRENT_LIST_DIR}/cuda_engine_emu.cpp ${DELAYPROP_ENGINE_SOURCES})
# Its own build of the engine layer (the same source list): delayprop_engine may hold the
# real CUDA backend, here the emulated one takes its place.
target_include_directories(delayprop-device-check-emu PRIVATE ${CMAKE_CURRENT_LIST_DIR} ${PROJECT_SOURCE_DIR}/tests/support)
target_compile_definitions(delayprop-device-check-emu PRIVATE DELAYPROP_HAVE_CUDA=1 DP_CUDA_THREADS=64)
target_link_libraries(delayprop-device-check-emu PRIVATE delayprop_backend_common OpenMP::OpenMP_CXX Threads::Threads)
add_test(NAME gpu.device_check_emulated COMMAND delayprop-device-check-emu --skip-bench --small)
set_tests_properties(gpu.device_check_emulated PROPERTIES LABELS "gpu;emulation" TIMEOUT 900)
# The CPU halves of the check (harness, sequence task on the CPU backend).
add_test(NAME gpu.device_check_cpu_half COMMAND delayprop-device-check-emu --cpu-only --skip-bench)
set_tests_properties(gpu.device_check_cpu_half PROPERTIES LABELS gpu TIMEOUT 300)
