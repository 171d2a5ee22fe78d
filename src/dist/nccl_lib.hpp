#pragma once
// NCCL loaded at run time (dlopen), so that no binary has a link-time dependency on libnccl:
// machines may have NCCL only as a shared library in an odd place (a Python wheel) or not at
// all. Compiled with the CUDA backend; no MPI here (the NCCL communicator in nccl.hpp adds
// the MPI side, the device check uses one rank). docs/GPU.md, "NCCL communicator".
//
// Library: DELAYPROP_NCCL_LIB (a path to libnccl.so.2, or the folder holding it) when set,
// else libnccl.so.2 (then libnccl.so) through the dynamic loader's search path.
#include <cstddef>
#include <string>

namespace delayprop::dist {

struct NcclUniqueId {
  char internal[128];  // NCCL_UNIQUE_ID_BYTES
};

// Loads NCCL (once). False, with the reason in *why, when it cannot be loaded or lacks an
// entry point we use.
bool nccl_load(std::string* why = nullptr);
// "NCCL 2.21.5 (/path/libnccl.so.2)"; throws when NCCL cannot be loaded.
std::string nccl_describe();
NcclUniqueId nccl_unique_id();

enum class NcclType { u32, u64, f32, f64 };

// One NCCL communicator of `size` ranks on one GPU, with its own stream. Created
// non-blocking; every operation (the initialisation included) is waited for with a timeout
// (dist::wait_or_abort): NCCL's asynchronous error is polled, and a timeout or an error calls
// ncclCommAbort and fails with a message naming the rank.
class NcclGroup {
 public:
  NcclGroup(const NcclUniqueId& id, int rank, int size, int device, double timeout_s);
  ~NcclGroup();
  NcclGroup(const NcclGroup&) = delete;
  NcclGroup& operator=(const NcclGroup&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  int device() const { return device_; }

  // In-place sum over ranks of n values in this GPU's memory. Enqueued on `stream` (a
  // cudaStream_t: in order with the caller's work on it, e.g. the engine's resident training)
  // or, when null, on this group's stream, which is a blocking stream: work the caller issued
  // on the legacy default stream is finished first. Returns when the sum is done.
  void allreduce_device(void* data, size_t n, NcclType type, void* stream = nullptr);
  // In-place sum of n values in host memory: copied to pinned memory, then host->device,
  // all-reduce and device->host on the one stream, in that order; returns when done.
  void allreduce_host(void* data, size_t n, NcclType type);

 private:
  // Polls NCCL's asynchronous state (and the stream, when stream_too) until done; timeout or
  // error: ncclCommAbort and an Error naming the rank.
  // stream: the one to poll (null: this group's).
  void wait(const char* what, bool stream_too = true, void* stream = nullptr);
  [[noreturn]] void abort_with(const std::string& message);

  int rank_, size_, device_;
  double timeout_s_;
  void* comm_ = nullptr;    // ncclComm_t
  void* stream_ = nullptr;  // cudaStream_t
  void* dev_ = nullptr;     // device staging buffer
  void* pinned_ = nullptr;  // pinned host staging buffer
  size_t staged_bytes_ = 0;
};

}  // namespace delayprop::dist
