# The sources of each layer, listed once. Layers and what each may include (docs/DESIGN.md):
#   core (model) <- kernels (engine) <- dist <- io <- train <- drivers
#   core, kernels <- bench (workloads, the bare loop);  io <- sweep
# The GPU check build (cmake/gpu_check.cmake) and the CUDA emulation test reuse the model,
# engine and bench lists.
set(DELAYPROP_MODEL_SOURCES src/core/engine.cpp src/core/network.cpp src/core/loss.cpp src/core/optimizer.cpp src/core/resident.cpp
    src/core/spikes.cpp)
set(DELAYPROP_BACKEND_COMMON_SOURCES src/kernels/common.cpp)
set(DELAYPROP_ENGINE_SOURCES src/kernels/factory.cpp src/kernels/cpu/cpu_engine.cpp src/kernels/cpu/simd.cpp
    src/kernels/cpu/simd_avx2.cpp src/kernels/cpu/simd_avx512.cpp)
set(DELAYPROP_CUDA_SOURCES src/kernels/cuda/cuda_engine.cu)
set(DELAYPROP_DIST_RUNTIME_SOURCES src/dist/watchdog.cpp)
set(DELAYPROP_NCCL_RUNTIME_SOURCES src/dist/nccl_lib.cpp)
set(DELAYPROP_DIST_SOURCES src/dist/agree.cpp src/dist/comm.cpp src/dist/launcher.cpp src/dist/local.cpp
    src/dist/dryrun.cpp src/dist/mpi.cpp src/dist/nccl.cpp src/dist/shard.cpp)
set(DELAYPROP_IO_SOURCES src/io/config.cpp src/io/config_diff.cpp src/io/files.cpp src/io/h5.cpp src/io/param_io.cpp src/io/checkpoint.cpp
    src/io/test_hooks.cpp src/io/version.cpp src/io/model_file.cpp src/io/png.cpp src/io/data/augment.cpp
    src/io/data/dataset.cpp src/io/data/events.cpp
    src/io/data/sequence.cpp src/io/data/delay_order.cpp src/io/data/yinyang.cpp)
set(DELAYPROP_TRAIN_SOURCES src/train/train.cpp src/train/evaluate.cpp src/train/step.cpp)
set(DELAYPROP_BENCH_SOURCES src/bench/workload.cpp src/bench/run.cpp)
# The device check's slice of the dist and train layers (the trainer's step and the MPI-free
# communicators: local, dry-run), compiled into it so that it stays self-contained.
set(DELAYPROP_DEVICE_CHECK_SOURCES src/train/step.cpp src/dist/comm.cpp src/dist/local.cpp src/dist/dryrun.cpp
    src/dist/mpi.cpp src/dist/launcher.cpp)
set(DELAYPROP_SWEEP_SOURCES src/sweep/util.cpp src/sweep/sweep.cpp src/sweep/tables.cpp src/sweep/slurm.cpp
    src/sweep/commands.cpp)
foreach(layer MODEL BACKEND_COMMON ENGINE CUDA DIST_RUNTIME NCCL_RUNTIME DIST IO TRAIN BENCH SWEEP DEVICE_CHECK)
  list(TRANSFORM DELAYPROP_${layer}_SOURCES PREPEND ${PROJECT_SOURCE_DIR}/)
endforeach()

# The model and what the backends share (the engine layer's bottom half).
function(delayprop_add_model_libraries)
  add_library(delayprop_core STATIC ${DELAYPROP_MODEL_SOURCES})
  target_include_directories(delayprop_core PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/src>
                                                   $<INSTALL_INTERFACE:include/delayprop>)
  add_library(delayprop_backend_common STATIC ${DELAYPROP_BACKEND_COMMON_SOURCES})
  target_link_libraries(delayprop_backend_common PUBLIC delayprop_core)
endfunction()

# The bench workloads and the bare loop, over the engine (delayprop-bench, the device check).
function(delayprop_add_bench_library)
  add_library(delayprop_bench STATIC ${DELAYPROP_BENCH_SOURCES})
  target_link_libraries(delayprop_bench PUBLIC delayprop_engine)
endfunction()

# The CUDA backend's library (nvcc flags shared by the full build and the GPU check build).
function(delayprop_add_cuda_library name)
  add_library(${name} STATIC ${DELAYPROP_CUDA_SOURCES})
  target_include_directories(${name} PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/src>
                                            $<INSTALL_INTERFACE:include/delayprop>)
  # No fused multiply-add: the CPU backend is compiled without contraction too, so that
  # both round alike.
  target_compile_options(${name} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:--fmad=false>)
  # The static CUDA runtime: binaries then need only the driver (libcuda) on a GPU machine.
  target_link_libraries(${name} PUBLIC CUDA::cudart_static delayprop_backend_common)
  set_target_properties(${name} PROPERTIES POSITION_INDEPENDENT_CODE ON)
endfunction()

# The part of the dist layer without MPI: the watchdog of asynchronous collectives and, with
# CUDA, NCCL loaded at run time (dlopen; no link-time dependency on libnccl).
function(delayprop_add_dist_runtime_library)
  set(srcs ${DELAYPROP_DIST_RUNTIME_SOURCES})
  if(DELAYPROP_HAVE_CUDA)
    list(APPEND srcs ${DELAYPROP_NCCL_RUNTIME_SOURCES})
  endif()
  add_library(delayprop_dist_runtime STATIC ${srcs})
  target_link_libraries(delayprop_dist_runtime PUBLIC delayprop_core)
  if(DELAYPROP_HAVE_CUDA)
    target_link_libraries(delayprop_dist_runtime PUBLIC CUDA::cudart_static ${CMAKE_DL_LIBS})
    target_compile_definitions(delayprop_dist_runtime PUBLIC DELAYPROP_HAVE_NCCL_RUNTIME=1)
  endif()
endfunction()

# A binary to carry to another machine: libgomp linked in when its static archive exists.
# libstdc++ stays dynamic: linked in statically, GCC 12's needs glibc 2.36 (arc4random),
# newer than the C library of many GPU machines.
function(delayprop_self_contained target)
  execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-file-name=libgomp.a OUTPUT_VARIABLE gomp_a
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(IS_ABSOLUTE "${gomp_a}" AND EXISTS "${gomp_a}")
    # Listed last, so that it resolves the OpenMP calls of every library before the dynamic
    # -lgomp that -fopenmp adds; --as-needed then drops the latter.
    target_link_options(${target} PRIVATE -Wl,--as-needed)
    target_link_libraries(${target} PRIVATE "${gomp_a}")
  endif()
endfunction()
