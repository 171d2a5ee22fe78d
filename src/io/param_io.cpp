#include "io/param_io.hpp"

#include "core/error.hpp"

namespace delayprop {

namespace {
std::vector<double> read_params_file(const Network& net, const std::string& path, const std::string& group,
                                     bool check_values) {
  auto f = h5::File::open_read(path);
  std::vector<double> p(net.n_params);
  for (const auto& c : net.conns) {
    for (const char* what : {"weights", "delays"}) {
      const std::string name = group + "/" + c.name + "/" + what;
      require(f.exists(name), path, ": missing dataset '", name, "' (connection '", c.name,
              "' of the config; a file of another network?)");
      std::vector<uint64_t> shape;
      auto v = f.read_doubles(name, &shape);
      require(shape.size() == 2 && shape[0] == c.n_pre && shape[1] == c.n_post, path, ": dataset '", name,
              "' has shape (", shape.size() > 0 ? shape[0] : 0, ", ", shape.size() > 1 ? shape[1] : 0,
              shape.size() > 2 ? ", ..." : "", "), expected (", c.n_pre, ", ", c.n_post,
              ") (a file of another network?)");
      std::copy(v.begin(), v.end(), p.begin() + (what[0] == 'w' ? c.weight_offset : c.delay_offset));
    }
  }
  if (!check_values) return p;
  try {
    check_params(net, p);
  } catch (const Error& e) {
    fail(path, ": ", e.what());
  }
  return p;
}
}  // namespace

std::vector<double> read_params(const Network& net, const std::string& path, const std::string& group) {
  return h5::read_untrusted(path, [&] { return read_params_file(net, path, group, true); });
}

std::vector<double> read_gradients(const Network& net, const std::string& path, const std::string& group) {
  return h5::read_untrusted(path, [&] { return read_params_file(net, path, group, false); });
}

void write_params(const Network& net, std::span<const double> params, h5::File& f, const std::string& group) {
  for (const auto& c : net.conns) {
    const std::vector<uint64_t> shape{c.n_pre, c.n_post};
    const auto w = params.subspan(c.weight_offset, c.n_synapses());
    const auto d = params.subspan(c.delay_offset, c.n_synapses());
    f.write(group + "/" + c.name + "/weights", std::vector<double>(w.begin(), w.end()), shape);
    f.write(group + "/" + c.name + "/delays", std::vector<double>(d.begin(), d.end()), shape);
  }
}

}  // namespace delayprop
