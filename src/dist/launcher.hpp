#pragma once
// Where this process sits in its job, read from the launcher's environment. The one place
// that knows the variables of Open MPI, MPICH/Hydra, PMIx and SLURM.
namespace delayprop::dist {

// True when the process was started by an MPI launcher (Open MPI, MPICH/Hydra, PMIx/srun).
bool started_by_mpi_launcher();

// This process's rank in the job, or -1 when no launcher variable says.
int launcher_world_rank();

// This process's rank among the ranks of its node, or -1 when no launcher variable says.
int launcher_local_rank();

// The GPU of this process when every rank of a node gets one: the node-local rank modulo
// the number of visible devices (0 when the local rank is unknown). device_count >= 1.
int device_for_local_rank(int device_count);

}  // namespace delayprop::dist
