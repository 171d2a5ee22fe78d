// What every communicator shares: the default collectives, the factory, the sync check.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "dist/comm.hpp"
#include "dist/launcher.hpp"
#ifdef DELAYPROP_HAVE_NCCL
#include "dist/nccl_lib.hpp"
#include "kernels/cuda/cuda_engine.hpp"
#endif

namespace delayprop::dist {

void Communicator::allreduce_sum_device(float*, size_t) {
  fail("communicator '", name(), "' does not support device buffers (allreduce_sum_device);",
       " copy to the host and use allreduce_sum, or use the NCCL communicator");
}

void Communicator::allreduce_sum_device(uint64_t*, size_t, void*) {
  fail("communicator '", name(), "' does not support device buffers (allreduce_sum_device);",
       " copy to the host and use allreduce_sum, or use the NCCL communicator");
}

void Communicator::allreduce_max(std::span<double> data) {
  std::vector<double> other(data.size());
  for (int root = 0; root < size(); ++root) {
    if (root == rank()) std::copy(data.begin(), data.end(), other.begin());
    broadcast(std::as_writable_bytes(std::span<double>(other)), root);
    for (size_t i = 0; i < data.size(); ++i) data[i] = std::max(data[i], other[i]);
  }
}

namespace {

int parse_int(const std::string& text, const std::string& kind) {
  size_t used = 0;
  int v = 0;
  try {
    v = std::stoi(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  require(used == text.size() && !text.empty(), "communicator kind '", kind,
          "': expected dryrun:N:R with integers N >= 1 and 0 <= R < N");
  return v;
}

}  // namespace

std::unique_ptr<Communicator> make_communicator(const std::string& kind, const CommOptions& options) {
  if (kind == "local") return make_local_communicator();
  if (kind == "mpi") return make_mpi_communicator();
  if (kind == "auto") {
    if (!started_by_mpi_launcher()) return make_local_communicator();
    auto mpi = make_mpi_communicator();
#ifdef DELAYPROP_HAVE_NCCL
    if (options.gpu && mpi->size() > 1) {
      // Decided together: NCCL only if every rank can load it and has a GPU of its own.
      const NodeRank where = node_rank();
      const int count = cuda_device_count();
      const bool ok = nccl_load() && count > 0 && (options.device >= 0 || where.local_size <= count);
      if (!mpi->any(!ok)) {
        mpi.reset();
        return make_nccl_world_communicator(options.device);
      }
    }
#else
    (void)options;
#endif
    return mpi;
  }
  if (kind == "nccl") {
#ifdef DELAYPROP_HAVE_NCCL
    return make_nccl_world_communicator(options.device);
#else
    fail("communicator 'nccl': this build has no NCCL communicator (it needs the CUDA backend and MPI",
         " at configure time)");
#endif
  }
  if (kind.rfind("dryrun:", 0) == 0) {
    const std::string rest = kind.substr(7);
    const size_t colon = rest.find(':');
    require(colon != std::string::npos, "communicator kind '", kind,
            "': expected dryrun:N:R (N pretend ranks, this process is rank R)");
    return make_dryrun_communicator(parse_int(rest.substr(0, colon), kind),
                                    parse_int(rest.substr(colon + 1), kind));
  }
  fail("unknown communicator kind '", kind, "' (expected auto, local, mpi, nccl or dryrun:N:R)");
}

uint64_t checksum(std::span<const std::byte> data) {
  // Words of 8 bytes through splitmix64; the tail and the length are mixed in last.
  uint64_t h = splitmix64(data.size());
  size_t i = 0;
  for (; i + 8 <= data.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, data.data() + i, 8);
    h = splitmix64(h ^ w);
  }
  uint64_t tail = 0;
  if (i < data.size()) std::memcpy(&tail, data.data() + i, data.size() - i);
  return splitmix64(h ^ tail);
}

bool same_on_all_ranks(Communicator& comm, std::span<const std::byte> data) {
  const uint64_t mine = checksum(data);
  uint64_t root = mine;
  comm.broadcast_value(root, 0);
  return !comm.any(root != mine);
}

}  // namespace delayprop::dist
