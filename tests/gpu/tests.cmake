# GPU checks.
# - delayprop-device-check (with CUDA): CPU vs CUDA backend, determinism, tape growth, the
#   sequence task, a 1-rank NCCL all-reduce, compute-sanitizer, and (outside ctest) the
#   benchmark; one JSON file. Self-contained: static CUDA runtime, NCCL by dlopen, no MPI or
#   HDF5, libgomp linked statically when its archive exists, so that it
#   can be built here and carried to a GPU machine (docs/GPU.md). Without an NVIDIA device it
#   prints "SKIP: no NVIDIA device" and ctest reports the test as skipped.
# - gpu.device_check_deps: its dynamic dependencies are within the allow-list.
# - delayprop-device-check-emu (always): the same checks with the CUDA kernels compiled as
#   C++ and run on CPU threads (cuda_emu.hpp), so that the kernel logic is tested on
#   machines without a GPU. 64 threads per block; about 1-2 minutes.
if(DELAYPROP_HAVE_CUDA)
  add_executable(delayprop-device-check ${CMAKE_CURRENT_LIST_DIR}/device_check.cpp ${DELAYPROP_DEVICE_CHECK_SOURCES})
  target_link_libraries(delayprop-device-check PRIVATE delayprop_bench delayprop_dist_runtime)
  target_include_directories(delayprop-device-check PRIVATE ${PROJECT_SOURCE_DIR}/tests/support)
  set_target_properties(delayprop-device-check PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR})
  delayprop_self_contained(delayprop-device-check)
  add_test(NAME gpu.device_check
           COMMAND delayprop-device-check --skip-bench --json ${PROJECT_BINARY_DIR}/device_check.json)
  set_tests_properties(gpu.device_check PROPERTIES LABELS gpu TIMEOUT 600
                       SKIP_REGULAR_EXPRESSION "SKIP: no NVIDIA device")
  # A machine with an NVIDIA device node whose CUDA runtime finds no usable device must FAIL,
  # not SKIP (a stand-in /dev with a "nvidia0" file; skipped where a real device exists).
  add_test(NAME gpu.device_check_fails_not_skips
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/fail_not_skip.sh $<TARGET_FILE:delayprop-device-check>)
  set_tests_properties(gpu.device_check_fails_not_skips PROPERTIES LABELS "gpu;unit" TIMEOUT 60
                       SKIP_REGULAR_EXPRESSION "SKIP: this machine has a real NVIDIA device")
  add_test(NAME gpu.device_check_deps
           COMMAND python3 ${CMAKE_CURRENT_LIST_DIR}/check_deps.py $<TARGET_FILE:delayprop-device-check>)
  set_tests_properties(gpu.device_check_deps PROPERTIES LABELS "gpu;unit" TIMEOUT 60)
endif()

find_package(Threads REQUIRED)
add_executable(delayprop-device-check-emu ${CMAKE_CURRENT_LIST_DIR}/device_check.cpp
               ${CMAKE_CURRENT_LIST_DIR}/cuda_engine_emu.cpp ${DELAYPROP_ENGINE_SOURCES} ${DELAYPROP_BENCH_SOURCES}
               ${DELAYPROP_DEVICE_CHECK_SOURCES})
# Its own build of the engine and bench layers (the same source lists): delayprop_engine may
# hold the real CUDA backend, here the emulated one takes its place.
target_include_directories(delayprop-device-check-emu PRIVATE ${CMAKE_CURRENT_LIST_DIR} ${PROJECT_SOURCE_DIR}/tests/support)
target_compile_definitions(delayprop-device-check-emu PRIVATE DELAYPROP_HAVE_CUDA=1 DP_CUDA_THREADS=64
                           DELAYPROP_DEVICE_CHECK_EMULATED=1)
target_link_libraries(delayprop-device-check-emu PRIVATE delayprop_backend_common OpenMP::OpenMP_CXX Threads::Threads)
# Two halves (1.5 and 1 minutes on a 2-core machine busy with two other jobs):
# (a) CPU vs GPU agreement, then (b) determinism and (c) the sequence task.
add_test(NAME gpu.device_check_emulated
         COMMAND delayprop-device-check-emu --skip-bench --small --budget-s 900 --sections a
                 --json ${PROJECT_BINARY_DIR}/device_check_emulated.json)
add_test(NAME gpu.device_check_emulated_determinism
         COMMAND delayprop-device-check-emu --skip-bench --small --budget-s 900 --sections bc
                 --json ${PROJECT_BINARY_DIR}/device_check_emulated_determinism.json)
# (g) device-resident training: the trainer's step through the emulated device against the
# host step (bitwise), device Adam against core/optimizer.cpp (bitwise), the all-reduce
# buckets with an in-place stand-in for a second rank.
add_test(NAME gpu.device_check_emulated_resident
         COMMAND delayprop-device-check-emu --skip-bench --small --budget-s 900 --sections g
                 --json ${PROJECT_BINARY_DIR}/device_check_emulated_resident.json)
set_tests_properties(gpu.device_check_emulated gpu.device_check_emulated_determinism
                     gpu.device_check_emulated_resident PROPERTIES LABELS "gpu;emulation" TIMEOUT 1200)
# (g) runs the resident step three ways per case (uploaded and device-assembled batches):
# about 4 minutes on a 2-core machine busy with two other jobs.
set_tests_properties(gpu.device_check_emulated_resident PROPERTIES TIMEOUT 2400)
# The CPU halves of the check (harness, sequence task on the CPU backend).
add_test(NAME gpu.device_check_cpu_half COMMAND delayprop-device-check-emu --cpu-only --skip-bench)
set_tests_properties(gpu.device_check_cpu_half PROPERTIES LABELS gpu TIMEOUT 300)
