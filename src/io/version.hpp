#pragma once
// What built this program: the project version (CMake's project version), the git commit of
// the sources (with "-dirty" when tracked files had uncommitted changes; "unknown" outside a
// git checkout) and the build options. Written into summary.json, metrics.jsonl's header
// record, checkpoints and model files (docs/FORMATS.md).
#include <string>

namespace delayprop {

struct BuildInfo {
  std::string version;     // e.g. "0.1.0"
  std::string git_commit;  // 40 hex digits, maybe "-dirty", or "unknown"
  std::string options;     // "build_type=Release gpu=none cuda=OFF mpi=ON nccl=OFF sanitize=OFF"
};

const BuildInfo& build_info();

}  // namespace delayprop
