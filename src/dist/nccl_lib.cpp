// NCCL by dlopen: see dist/nccl_lib.hpp. The few entry points we call are declared here
// with their C types (stable across NCCL 2.x), so neither nccl.h nor libnccl is needed to
// build.
#include "dist/nccl_lib.hpp"

#include <cuda_runtime.h>
#include <dlfcn.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <sys/stat.h>

#include "core/error.hpp"
#include "dist/watchdog.hpp"

namespace delayprop::dist {
namespace {

using ncclResult = int;  // ncclResult_t
constexpr ncclResult kSuccess = 0, kInProgress = 7;
using ncclComm = void*;  // ncclComm_t
// ncclDataType_t and ncclRedOp_t values.
constexpr int kUint32 = 3, kUint64 = 5, kFloat32 = 7, kFloat64 = 8, kSum = 0;

// ncclConfig_t as introduced in NCCL 2.14 (its first eight fields). NCCL reads `size` and
// `version` and fills the fields a newer NCCL added with their defaults.
struct NcclConfig214 {
  size_t size = sizeof(NcclConfig214);
  unsigned magic = 0xcafebeef;
  unsigned version = 21400;  // NCCL_VERSION(2, 14, 0)
  int blocking = INT_MIN;    // NCCL_CONFIG_UNDEF_INT
  int cga_cluster_size = INT_MIN;
  int min_ctas = INT_MIN;
  int max_ctas = INT_MIN;
  const char* net_name = nullptr;  // NCCL_CONFIG_UNDEF_PTR
};

struct Api {
  void* handle = nullptr;
  std::string path, error;
  int version = 0;
  ncclResult (*GetVersion)(int*) = nullptr;
  ncclResult (*GetUniqueId)(NcclUniqueId*) = nullptr;
  ncclResult (*CommInitRank)(ncclComm*, int, NcclUniqueId, int) = nullptr;
  ncclResult (*CommInitRankConfig)(ncclComm*, int, NcclUniqueId, int, NcclConfig214*) = nullptr;  // >= 2.14
  ncclResult (*AllReduce)(const void*, void*, size_t, int, int, ncclComm, cudaStream_t) = nullptr;
  ncclResult (*CommGetAsyncError)(ncclComm, ncclResult*) = nullptr;
  ncclResult (*CommAbort)(ncclComm) = nullptr;
  ncclResult (*CommFinalize)(ncclComm) = nullptr;  // >= 2.14
  ncclResult (*CommDestroy)(ncclComm) = nullptr;
  const char* (*GetErrorString)(ncclResult) = nullptr;
};

Api& api() {
  static Api a;
  static std::once_flag once;
  std::call_once(once, [] {
    std::string candidates[3] = {"libnccl.so.2", "libnccl.so", ""};
    if (const char* env = std::getenv("DELAYPROP_NCCL_LIB"); env && *env) {
      std::string p = env;
      struct stat st{};
      if (stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) p += "/libnccl.so.2";
      candidates[0] = p;
      candidates[1] = "";
    }
    std::string errors;
    for (const auto& c : candidates) {
      if (c.empty()) break;
      a.handle = dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (a.handle) {
        a.path = c;
        break;
      }
      const char* e = dlerror();
      errors += (errors.empty() ? "" : "; ") + std::string(e ? e : c.c_str());
    }
    if (!a.handle) {
      a.error = "NCCL could not be loaded (" + errors +
                "); set DELAYPROP_NCCL_LIB to the path of libnccl.so.2 (e.g. in a Python wheel: "
                ".../site-packages/nvidia/nccl/lib/libnccl.so.2)";
      return;
    }
    char where[4096];
    if (dlinfo(a.handle, RTLD_DI_ORIGIN, where) == 0) a.path = std::string(where) + "/" + a.path.substr(a.path.rfind('/') + 1);
    auto sym = [&](auto& fn, const char* name, bool needed) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(a.handle, name));
      if (!fn && needed && a.error.empty()) a.error = std::string("NCCL at ") + a.path + " lacks " + name;
    };
    sym(a.GetVersion, "ncclGetVersion", true);
    sym(a.GetUniqueId, "ncclGetUniqueId", true);
    sym(a.CommInitRank, "ncclCommInitRank", true);
    sym(a.CommInitRankConfig, "ncclCommInitRankConfig", false);
    sym(a.AllReduce, "ncclAllReduce", true);
    sym(a.CommGetAsyncError, "ncclCommGetAsyncError", true);
    sym(a.CommAbort, "ncclCommAbort", true);
    sym(a.CommFinalize, "ncclCommFinalize", false);
    sym(a.CommDestroy, "ncclCommDestroy", true);
    sym(a.GetErrorString, "ncclGetErrorString", true);
    if (a.error.empty()) a.GetVersion(&a.version);
  });
  return a;
}

Api& loaded() {
  Api& a = api();
  if (!a.error.empty()) fail(a.error);
  return a;
}

std::string nccl_error(ncclResult r) {
  const Api& a = api();
  return std::string(a.GetErrorString ? a.GetErrorString(r) : "NCCL error") + " (" + std::to_string(r) + ")";
}

int nccl_type(NcclType t) {
  switch (t) {
    case NcclType::u32: return kUint32;
    case NcclType::u64: return kUint64;
    case NcclType::f32: return kFloat32;
    case NcclType::f64: return kFloat64;
  }
  return kFloat64;
}

size_t type_bytes(NcclType t) { return t == NcclType::u32 || t == NcclType::f32 ? 4 : 8; }

}  // namespace

bool nccl_load(std::string* why) {
  const Api& a = api();
  if (why) *why = a.error;
  return a.error.empty();
}

std::string nccl_describe() {
  const Api& a = loaded();
  const int v = a.version;
  // NCCL >= 2.9 encodes major * 10000 + minor * 100 + patch.
  return "NCCL " + std::to_string(v / 10000) + "." + std::to_string((v / 100) % 100) + "." + std::to_string(v % 100) +
         " (" + a.path + ")";
}

NcclUniqueId nccl_unique_id() {
  Api& a = loaded();
  NcclUniqueId id{};
  const ncclResult r = a.GetUniqueId(&id);
  if (r != kSuccess) fail("ncclGetUniqueId: ", nccl_error(r));
  return id;
}

NcclGroup::NcclGroup(const NcclUniqueId& id, int rank, int size, int device, double timeout_s)
    : rank_(rank), size_(size), device_(device), timeout_s_(timeout_s) {
  Api& a = loaded();
  auto cuda = [&](cudaError_t e, const char* what) {
    if (e != cudaSuccess) fail("rank ", rank_, ": CUDA error in ", what, " (device ", device_, "): ", cudaGetErrorString(e));
  };
  cuda(cudaSetDevice(device_), "cudaSetDevice");
  // A blocking stream (not cudaStreamNonBlocking): ordered after the legacy default stream,
  // where the engine works.
  cudaStream_t s = nullptr;
  cuda(cudaStreamCreate(&s), "cudaStreamCreate");
  stream_ = s;
  ncclComm c = nullptr;
  ncclResult r;
  if (a.CommInitRankConfig) {
    NcclConfig214 config;
    config.blocking = 0;  // non-blocking: calls return ncclInProgress, we poll
    r = a.CommInitRankConfig(&c, size_, id, rank_, &config);
  } else {
    r = a.CommInitRank(&c, size_, id, rank_);  // NCCL < 2.14: blocking initialisation
  }
  comm_ = c;
  if (r != kSuccess && r != kInProgress) {
    if (comm_) a.CommAbort(c);
    comm_ = nullptr;
    cudaStreamDestroy(s);
    stream_ = nullptr;
    fail("rank ", rank_, ": NCCL initialisation (", size_, " ranks, device ", device_, "): ", nccl_error(r));
  }
  try {
    wait("NCCL initialisation");
  } catch (...) {
    if (stream_) cudaStreamDestroy(static_cast<cudaStream_t>(stream_));
    stream_ = nullptr;
    throw;
  }
}

NcclGroup::~NcclGroup() {
  if (comm_) {
    Api& a = api();
    // A healthy communicator is finalised (non-blocking: polled, at most timeout_s) and
    // destroyed; a broken or stuck one is aborted.
    bool healthy = true;
    if (a.CommFinalize) {
      const ncclResult r = a.CommFinalize(comm_);
      healthy = r == kSuccess || r == kInProgress;
      if (healthy) {
        try {
          wait("NCCL finalisation", false);
        } catch (const std::exception&) {
          healthy = false;  // wait() has aborted the communicator
        }
      }
    }
    if (comm_) {
      ncclResult st = kSuccess;
      if (healthy && a.CommGetAsyncError(comm_, &st) == kSuccess && st == kSuccess) a.CommDestroy(comm_);
      else a.CommAbort(comm_);
    }
  }
  if (dev_) cudaFree(dev_);
  if (pinned_) cudaFreeHost(pinned_);
  if (stream_) cudaStreamDestroy(static_cast<cudaStream_t>(stream_));
}

void NcclGroup::abort_with(const std::string& message) {
  if (comm_) api().CommAbort(comm_);
  comm_ = nullptr;
  fail(message);
}

void NcclGroup::wait(const char* what, bool stream_too, void* on) {
  Api& a = api();
  const auto stream = static_cast<cudaStream_t>(on ? on : stream_);
  wait_or_abort(
      rank_, what, timeout_s_,
      [&] {
        ncclResult st = kSuccess;
        const ncclResult r = a.CommGetAsyncError(comm_, &st);
        if (r != kSuccess) abort_with("rank " + std::to_string(rank_) + ": ncclCommGetAsyncError: " + nccl_error(r));
        if (st == kInProgress) return Poll::pending;
        if (st != kSuccess)
          abort_with("rank " + std::to_string(rank_) + ": NCCL error in " + what + ": " + nccl_error(st) +
                     (st == 6 ? " (a remote peer failed)" : ""));
        if (!stream_too) return Poll::done;
        const cudaError_t q = cudaStreamQuery(stream);
        if (q == cudaErrorNotReady) return Poll::pending;
        if (q != cudaSuccess)
          abort_with("rank " + std::to_string(rank_) + ": CUDA error in " + what + ": " + cudaGetErrorString(q));
        return Poll::done;
      },
      [&] {
        if (comm_) a.CommAbort(comm_);
        comm_ = nullptr;
      });
}

void NcclGroup::allreduce_device(void* data, size_t n, NcclType type, void* stream) {
  if (n == 0) return;
  require(comm_ != nullptr, "rank ", rank_, ": the NCCL communicator was aborted after an earlier error");
  if (cudaSetDevice(device_) != cudaSuccess) fail("rank ", rank_, ": cudaSetDevice(", device_, ") failed");
  void* on = stream ? stream : stream_;
  const ncclResult r = api().AllReduce(data, data, n, nccl_type(type), kSum, comm_, static_cast<cudaStream_t>(on));
  if (r != kSuccess && r != kInProgress) abort_with("rank " + std::to_string(rank_) + ": ncclAllReduce: " + nccl_error(r));
  wait("NCCL all-reduce", true, on);
}

void NcclGroup::allreduce_host(void* data, size_t n, NcclType type) {
  if (n == 0) return;
  require(comm_ != nullptr, "rank ", rank_, ": the NCCL communicator was aborted after an earlier error");
  const size_t bytes = n * type_bytes(type);
  auto cuda = [&](cudaError_t e, const char* what) {
    if (e != cudaSuccess) fail("rank ", rank_, ": CUDA error in ", what, ": ", cudaGetErrorString(e));
  };
  cuda(cudaSetDevice(device_), "cudaSetDevice");
  if (bytes > staged_bytes_) {
    if (dev_) cudaFree(dev_);
    if (pinned_) cudaFreeHost(pinned_);
    dev_ = pinned_ = nullptr;
    staged_bytes_ = 0;
    cuda(cudaMalloc(&dev_, bytes), "cudaMalloc(staging)");
    cuda(cudaMallocHost(&pinned_, bytes), "cudaMallocHost(staging)");
    staged_bytes_ = bytes;
  }
  // Pinned memory: cudaMemcpyAsync is then truly asynchronous and ordered on the stream
  // (from pageable memory it may return before the copy has been done).
  std::memcpy(pinned_, data, bytes);
  const auto stream = static_cast<cudaStream_t>(stream_);
  cuda(cudaMemcpyAsync(dev_, pinned_, bytes, cudaMemcpyHostToDevice, stream), "cudaMemcpyAsync(host->device)");
  const ncclResult r = api().AllReduce(dev_, dev_, n, nccl_type(type), kSum, comm_, stream);
  if (r != kSuccess && r != kInProgress) abort_with("rank " + std::to_string(rank_) + ": ncclAllReduce: " + nccl_error(r));
  // Non-blocking NCCL may return before the collective is on the stream: wait until it is,
  // so that the copy back is ordered after it.
  wait("NCCL all-reduce (enqueue)", false);
  cuda(cudaMemcpyAsync(pinned_, dev_, bytes, cudaMemcpyDeviceToHost, stream), "cudaMemcpyAsync(device->host)");
  wait("NCCL all-reduce");
  std::memcpy(data, pinned_, bytes);
}

}  // namespace delayprop::dist
