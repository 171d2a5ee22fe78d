#pragma once
#include <memory>

#include "core/engine.hpp"

namespace delayprop {
std::unique_ptr<Engine> make_cpu_engine(const Network& net, const EngineOptions& opt);
}
