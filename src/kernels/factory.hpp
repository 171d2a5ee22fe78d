#pragma once
// Picks an engine backend by name. The one place that knows every backend: code above the
// engine layer includes this header, never a backend's own.
#include <memory>
#include <string>

#include "core/engine.hpp"
#include "core/network.hpp"

namespace delayprop {

// Throws Error when the backend is unknown, not built, or has no device.
std::unique_ptr<Engine> make_engine(const Network& net, const EngineOptions& opt);

// The CPU backend's synapse kernels that EngineOptions::simd selects on this CPU ("scalar",
// "avx2", "avx512"); throws Error like make_engine for an unknown or unsupported one.
std::string cpu_simd_kernels(const std::string& simd);

}  // namespace delayprop
