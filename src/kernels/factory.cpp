#include "kernels/factory.hpp"

#include "core/error.hpp"
#include "kernels/common.hpp"
#include "kernels/cpu/cpu_engine.hpp"
#include "kernels/cpu/simd.hpp"
#ifdef DELAYPROP_HAVE_CUDA
#include "kernels/cuda/cuda_engine.hpp"
#endif

namespace delayprop {

std::unique_ptr<Engine> make_engine(const Network& net, const EngineOptions& opt) {
  require(opt.threads >= 1 && opt.threads <= kMaxThreads, "engine.threads = ", opt.threads, " is out of range [1, ",
          kMaxThreads, "]");
  if (opt.backend == "cpu") {
    check_engine_memory(net, opt, "");
    return make_cpu_engine(net, opt);
  }
  if (opt.backend == "cuda") {
#ifdef DELAYPROP_HAVE_CUDA
    return make_cuda_engine(net, opt);
#else
    fail("engine.backend = \"cuda\": this build has no CUDA backend (configure with DELAYPROP_GPU=cuda)");
#endif
  }
  fail("engine.backend: unknown backend '", opt.backend, "' (expected cpu or cuda)");
}

std::string cpu_simd_kernels(const std::string& simd) { return cpu::to_string(cpu::resolve_isa(simd)); }

}  // namespace delayprop
