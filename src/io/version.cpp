#include "io/version.hpp"

#include "delayprop_version.hpp"  // generated (build/generated/)

namespace delayprop {

const BuildInfo& build_info() {
  static const BuildInfo info{DELAYPROP_VERSION_STRING, DELAYPROP_GIT_COMMIT, DELAYPROP_BUILD_OPTIONS};
  return info;
}

}  // namespace delayprop
