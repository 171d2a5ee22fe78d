#pragma once
// Picks an engine backend by name. The one place that knows every backend: code above the
// engine layer includes this header, never a backend's own.
#include <memory>

#include "core/engine.hpp"
#include "core/network.hpp"

namespace delayprop {

// Throws Error when the backend is unknown, not built, or has no device.
std::unique_ptr<Engine> make_engine(const Network& net, const EngineOptions& opt);

}  // namespace delayprop
