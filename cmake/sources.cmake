# The sources of each layer, listed once. Layers and what each may include (docs/DESIGN.md):
#   core (model) <- kernels (engine) <- dist <- io <- train <- drivers
# The GPU check build (cmake/gpu_check.cmake) and the CUDA emulation test reuse the model and
# engine lists.
set(DELAYPROP_MODEL_SOURCES src/core/engine.cpp src/core/network.cpp src/core/loss.cpp src/core/optimizer.cpp src/core/spikes.cpp)
set(DELAYPROP_BACKEND_COMMON_SOURCES src/kernels/common.cpp)
set(DELAYPROP_ENGINE_SOURCES src/kernels/factory.cpp src/kernels/cpu/cpu_engine.cpp)
set(DELAYPROP_CUDA_SOURCES src/kernels/cuda/cuda_engine.cu)
set(DELAYPROP_DIST_SOURCES src/dist/comm.cpp src/dist/launcher.cpp src/dist/local.cpp src/dist/dryrun.cpp
    src/dist/mpi.cpp src/dist/nccl.cpp src/dist/shard.cpp)
set(DELAYPROP_IO_SOURCES src/io/config.cpp src/io/config_diff.cpp src/io/h5.cpp src/io/param_io.cpp src/io/checkpoint.cpp
    src/io/test_hooks.cpp src/io/version.cpp src/io/model_file.cpp src/io/png.cpp src/io/data/augment.cpp src/io/data/dataset.cpp src/io/data/events.cpp
    src/io/data/sequence.cpp src/io/data/yinyang.cpp)
set(DELAYPROP_TRAIN_SOURCES src/train/train.cpp src/train/evaluate.cpp)
foreach(layer MODEL BACKEND_COMMON ENGINE CUDA DIST IO TRAIN)
  list(TRANSFORM DELAYPROP_${layer}_SOURCES PREPEND ${PROJECT_SOURCE_DIR}/)
endforeach()

# The model and what the backends share (the engine layer's bottom half).
function(delayprop_add_model_libraries)
  add_library(delayprop_core STATIC ${DELAYPROP_MODEL_SOURCES})
  target_include_directories(delayprop_core PUBLIC ${PROJECT_SOURCE_DIR}/src)
  add_library(delayprop_backend_common STATIC ${DELAYPROP_BACKEND_COMMON_SOURCES})
  target_link_libraries(delayprop_backend_common PUBLIC delayprop_core)
endfunction()

# The CUDA backend's library (nvcc flags shared by the full build and the GPU check build).
function(delayprop_add_cuda_library name)
  add_library(${name} STATIC ${DELAYPROP_CUDA_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  # No fused multiply-add: the CPU backend is compiled without contraction too, so that
  # both round alike.
  target_compile_options(${name} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:--fmad=false>)
  target_link_libraries(${name} PUBLIC CUDA::cudart delayprop_backend_common)
  set_target_properties(${name} PROPERTIES POSITION_INDEPENDENT_CODE ON)
endfunction()
