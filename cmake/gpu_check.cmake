# Minimal build for the GPU machine: engine core without HDF5/MPI/toml++/GoogleTest, the
# CUDA backend and the self-contained device check (tests/gpu/device_check.cpp).
if(NOT DELAYPROP_HAVE_CUDA)
  message(FATAL_ERROR "DELAYPROP_GPU_CHECK_ONLY needs CUDA")
endif()
add_library(delayprop_min STATIC src/core/network.cpp src/core/engine.cpp src/core/loss.cpp src/core/spikes.cpp
            src/core/optimizer.cpp src/kernels/cpu/cpu_engine.cpp)
file(GLOB DELAYPROP_CUDA_SOURCES CONFIGURE_DEPENDS src/kernels/cuda/*.cu src/kernels/cuda/*.cpp)
add_library(delayprop_cuda STATIC ${DELAYPROP_CUDA_SOURCES})
target_include_directories(delayprop_cuda PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/src)
target_compile_options(delayprop_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:--fmad=false>)
target_link_libraries(delayprop_cuda PUBLIC CUDA::cudart)
target_include_directories(delayprop_min PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/src)
target_compile_definitions(delayprop_min PUBLIC DELAYPROP_HAVE_CUDA=1)
target_link_libraries(delayprop_min PUBLIC OpenMP::OpenMP_CXX delayprop_cuda)
add_executable(delayprop-device-check tests/gpu/device_check.cpp)
target_link_libraries(delayprop-device-check PRIVATE delayprop_min)
