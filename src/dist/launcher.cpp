#include "dist/launcher.hpp"

#include <cstdlib>
#include <string>

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

int device_for_local_rank(int device_count) {
  const int local = launcher_local_rank();
  return device_count > 0 ? (local < 0 ? 0 : local % device_count) : 0;
}

}  // namespace delayprop::dist
