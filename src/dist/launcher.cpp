#include "dist/launcher.hpp"

#include <cstdlib>
#include <mutex>
#include <string>

#ifdef DELAYPROP_HAVE_MPI
#include <mpi.h>
#endif
#ifdef DELAYPROP_HAVE_CUDA
#include "kernels/cuda/cuda_engine.hpp"
#endif

namespace delayprop::dist {
namespace {

// The first of the variables that holds a non-negative integer, or -1.
int first_int(std::initializer_list<const char*> names) {
  for (const char* name : names) {
    const char* v = std::getenv(name);
    if (!v || !*v) continue;
    char* end = nullptr;
    const long x = std::strtol(v, &end, 10);
    if (*end == '\0' && x >= 0 && x < (1L << 30)) return int(x);
  }
  return -1;
}

#ifdef DELAYPROP_HAVE_MPI
bool mpi_running() {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  return init && !fin;
}
#endif

}  // namespace

bool started_by_mpi_launcher() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (std::getenv(var) != nullptr) return true;
  return false;
}

int launcher_world_rank() { return first_int({"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "SLURM_PROCID"}); }

int launcher_local_rank() {
  return first_int({"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "MV2_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID"});
}

NodeRank node_rank() {
  static std::mutex mutex;
  static bool from_mpi = false;
  static NodeRank cached;
  std::lock_guard<std::mutex> lock(mutex);
  if (from_mpi) return cached;
#ifdef DELAYPROP_HAVE_MPI
  if (mpi_running()) {
    // The ranks that share memory with this one: exactly the ranks of this node, whatever
    // the launcher (and also when a launcher sets no local-rank variable).
    MPI_Comm node = MPI_COMM_NULL;
    int world = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &world);
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, world, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
      MPI_Comm_rank(node, &cached.local_rank);
      MPI_Comm_size(node, &cached.local_size);
      MPI_Comm_free(&node);
      cached.source = "mpi shared-memory split";
      from_mpi = true;
      return cached;
    }
  }
#endif
  NodeRank r;
  const int local = launcher_local_rank();
  if (local >= 0) {
    r.local_rank = local;
    const int size = first_int({"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "MV2_COMM_WORLD_LOCAL_SIZE",
                                "SLURM_NTASKS_PER_NODE"});
    r.local_size = size > local ? size : local + 1;
    r.source = "launcher variables";
  }
  return r;
}

int gpu_for_rank(int requested, const NodeRank& where, int device_count) {
  if (requested >= 0) return requested;
  if (device_count < 1) return 0;
  return (where.local_rank < 0 ? 0 : where.local_rank) % device_count;
}

int gpu_for_this_rank(int requested) {
  if (requested >= 0) return requested;
#ifdef DELAYPROP_HAVE_CUDA
  return gpu_for_rank(requested, node_rank(), cuda_device_count());
#else
  return 0;
#endif
}

}  // namespace delayprop::dist
