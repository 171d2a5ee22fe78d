# Minimal build for a GPU machine with only the CUDA toolkit: the model and engine layers (CPU
# and CUDA backends), the bench workloads, the MPI-free part of dist (watchdog, NCCL by dlopen) and the
# self-contained device check; no HDF5, MPI, toml++ or GoogleTest. The default build makes
# the same binary (build/delayprop-device-check); docs/GPU.md says how to carry it instead.
if(NOT DELAYPROP_HAVE_CUDA)
  message(FATAL_ERROR "DELAYPROP_GPU_CHECK_ONLY needs CUDA")
endif()
delayprop_add_model_libraries()
delayprop_add_cuda_library(delayprop_cuda)
add_library(delayprop_engine STATIC ${DELAYPROP_ENGINE_SOURCES})
target_compile_definitions(delayprop_engine PUBLIC DELAYPROP_HAVE_CUDA=1)
target_link_libraries(delayprop_engine PUBLIC delayprop_backend_common delayprop_cuda OpenMP::OpenMP_CXX)
delayprop_add_bench_library()
delayprop_add_dist_runtime_library()
add_executable(delayprop-device-check tests/gpu/device_check.cpp ${DELAYPROP_DEVICE_CHECK_SOURCES})
target_link_libraries(delayprop-device-check PRIVATE delayprop_bench delayprop_dist_runtime)
target_include_directories(delayprop-device-check PRIVATE tests/support)
delayprop_self_contained(delayprop-device-check)
