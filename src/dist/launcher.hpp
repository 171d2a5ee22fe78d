#pragma once
// Where this process sits in its job, read from the launcher's environment (and, under MPI,
// from MPI itself). The one place that knows the variables of Open MPI, MPICH/Hydra, PMIx
// and SLURM, and the one place that decides which GPU a rank uses (docs/GPU.md, "One GPU per
// node-local rank").
namespace delayprop::dist {

// True when the process was started by an MPI launcher (Open MPI, MPICH/Hydra, PMIx/srun).
bool started_by_mpi_launcher();

// This process's rank in the job, or -1 when no launcher variable says.
int launcher_world_rank();

// This process's rank among the ranks of its node, or -1 when no launcher variable says.
int launcher_local_rank();

// The ranks of this process's node, and where that was learnt.
struct NodeRank {
  int local_rank = 0;  // 0 .. local_size - 1
  int local_size = 1;
  const char* source = "single process";  // "mpi shared-memory split", "launcher variables"
};

// This process's place on its node. When MPI is initialised: MPI_Comm_split_type(
// MPI_COMM_TYPE_SHARED) of MPI_COMM_WORLD, which is collective: the first call must be made
// by every rank (the MPI and NCCL communicators make it in their constructors; the result is
// kept). Otherwise the launcher's variables (Open MPI, MPICH/Hydra, MVAPICH, SLURM), else
// rank 0 of 1.
NodeRank node_rank();

// The GPU of a rank: an explicit request (>= 0, engine.device) wins; otherwise ("auto", -1)
// the node-local rank modulo device_count (0 when device_count < 1).
int gpu_for_rank(int requested, const NodeRank& where, int device_count);

// The same for this process: counts the visible CUDA devices (builds with the CUDA backend;
// 0 otherwise). What the trainer and the NCCL communicator use.
int gpu_for_this_rank(int requested);

}  // namespace delayprop::dist
