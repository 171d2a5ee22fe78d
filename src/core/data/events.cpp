#include "core/data/events.hpp"

#include <cmath>

#include "core/error.hpp"
#include "core/h5.hpp"

namespace delayprop {

EventDataset read_events(const std::string& path, uint32_t n_channels, uint32_t n_classes) {
  auto f = h5::File::open_read(path);
  std::string unit = f.has_attr("time_unit") ? f.read_string_attr("time_unit") : "s";
  require(unit == "s" || unit == "ms", path, ": attribute time_unit must be \"s\" or \"ms\", got \"", unit, "\"");
  const double scale = unit == "s" ? 1000.0 : 1.0;
  // Times are read as float64 first: float16 seconds times 1000 would overflow in float16.
  auto times = f.read_vlen_doubles("/spikes/times");
  auto units = f.read_vlen_doubles("/spikes/units");
  std::vector<uint64_t> lshape;
  auto labels = f.read_ints("/labels", &lshape);
  require(lshape.size() == 1, path, ": dataset '/labels' must be one-dimensional");
  require(units.size() == times.size(), path, ": '/spikes/units' has ", units.size(), " samples but '/spikes/times' has ",
          times.size());
  require(labels.size() == times.size(), path, ": '/labels' has ", labels.size(), " entries for ", times.size(), " samples");
  std::vector<int64_t> speakers;
  if (f.exists("/extra/speaker")) {
    speakers = f.read_ints("/extra/speaker");
    require(speakers.size() == times.size(), path, ": '/extra/speaker' has ", speakers.size(), " entries for ",
            times.size(), " samples");
  }
  if (n_channels == 0 && f.has_attr("n_channels")) n_channels = uint32_t(std::stoul(f.read_string_attr("n_channels")));
  if (n_classes == 0 && f.has_attr("n_classes")) n_classes = uint32_t(std::stoul(f.read_string_attr("n_classes")));

  EventDataset d;
  d.samples.resize(times.size());
  uint32_t max_unit = 0;
  int64_t max_label = -1;
  for (size_t s = 0; s < times.size(); ++s) {
    auto& out = d.samples[s];
    require(times[s].size() == units[s].size(), path, ": sample ", s, " has ", times[s].size(), " times but ",
            units[s].size(), " units");
    out.times_ms.resize(times[s].size());
    out.units.resize(times[s].size());
    for (size_t e = 0; e < times[s].size(); ++e) {
      const double t = times[s][e] * scale;
      require(std::isfinite(t) && t >= 0, path, ": '/spikes/times' sample ", s, " event ", e, " has time ", times[s][e]);
      const double u = units[s][e];
      require(u >= 0 && u == std::floor(u) && u < 4e9, path, ": '/spikes/units' sample ", s, " event ", e,
              " is not a channel index (", u, ")");
      require(n_channels == 0 || u < n_channels, path, ": '/spikes/units' sample ", s, " event ", e, ": unit ", u,
              " is out of range [0, ", n_channels, ")");
      out.times_ms[e] = t;
      out.units[e] = uint32_t(u);
      if (out.units[e] > max_unit) max_unit = out.units[e];
    }
    require(labels[s] >= 0 && (n_classes == 0 || labels[s] < int64_t(n_classes)), path, ": '/labels' entry ", s,
            " is ", labels[s], ", out of range [0, ", n_classes, ")");
    out.label = int32_t(labels[s]);
    if (labels[s] > max_label) max_label = labels[s];
    if (!speakers.empty()) out.speaker = int32_t(speakers[s]);
  }
  d.n_channels = n_channels ? n_channels : max_unit + 1;
  d.n_classes = n_classes ? n_classes : uint32_t(max_label + 1);
  return d;
}

void write_events(const std::string& path, const EventDataset& data, const std::string& time_unit) {
  require(time_unit == "s" || time_unit == "ms", "write_events: time_unit must be s or ms");
  const double scale = time_unit == "s" ? 1e-3 : 1.0;
  auto f = h5::File::create(path);
  f.create_group("/spikes");
  const size_t n = data.samples.size();
  h5::Handle vt(H5Tvlen_create(H5T_NATIVE_DOUBLE), H5Tclose);
  h5::Handle vu(H5Tvlen_create(H5T_NATIVE_UINT32), H5Tclose);
  std::vector<std::vector<double>> times(n);
  std::vector<hvl_t> th(n), uh(n);
  for (size_t s = 0; s < n; ++s) {
    times[s] = data.samples[s].times_ms;
    for (auto& t : times[s]) t *= scale;
    th[s] = {times[s].size(), times[s].data()};
    uh[s] = {data.samples[s].units.size(), const_cast<uint32_t*>(data.samples[s].units.data())};
  }
  hsize_t dim = n;
  auto write_vlen = [&](const char* name, hid_t type, const void* buf) {
    h5::Handle sp(H5Screate_simple(1, &dim, nullptr), H5Sclose);
    h5::Handle d(H5Dcreate2(f.id(), name, type, sp.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
    require(bool(d) && H5Dwrite(d.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0, path, ": cannot write ", name);
  };
  write_vlen("/spikes/times", vt.get(), th.data());
  write_vlen("/spikes/units", vu.get(), uh.data());
  std::vector<int64_t> labels(n), speakers(n);
  bool has_speaker = false;
  for (size_t s = 0; s < n; ++s) {
    labels[s] = data.samples[s].label;
    speakers[s] = data.samples[s].speaker;
    has_speaker |= data.samples[s].speaker >= 0;
  }
  f.write("/labels", labels, {n});
  if (has_speaker) f.write("/extra/speaker", speakers, {n});
  f.write_string_attr("time_unit", time_unit);
  f.write_string_attr("n_channels", std::to_string(data.n_channels));
  f.write_string_attr("n_classes", std::to_string(data.n_classes));
}

}  // namespace delayprop
