// The CUDA backend compiled as plain C++ against the CPU emulation (cuda_emu.hpp): the same
// kernel source, run on std::threads, for the emulated device check on machines without a GPU.
#define DELAYPROP_CUDA_EMULATION 1
#include "cuda_emu.hpp"
// The .cu file is included, not copied, so that the emulation tests exactly that source.
#include "kernels/cuda/cuda_engine.cu"
