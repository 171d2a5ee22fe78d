#pragma once
// Parameter files (HDF5): for every connection NAME, datasets /NAME/weights and /NAME/delays,
// shape (n_pre, n_post), float64, delays in ms; element [i][j] is pre i -> post j.
// Gradient files use the same layout (see drivers/grad.cpp).
#include <span>
#include <string>
#include <vector>

#include "io/h5.hpp"
#include "core/network.hpp"

namespace delayprop {

// group: where the connections are ("" = the root; "/params" in model files).
std::vector<double> read_params(const Network& net, const std::string& path, const std::string& group = "");
// A gradient file's group (delayprop-grad's "/grad"): the same layout, values not checked
// (a delay gradient may be negative).
std::vector<double> read_gradients(const Network& net, const std::string& path, const std::string& group = "/grad");
void write_params(const Network& net, std::span<const double> params, h5::File& f, const std::string& group = "");

}  // namespace delayprop
