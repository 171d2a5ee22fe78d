#include "io/model_file.hpp"

#include <filesystem>

#include "core/error.hpp"
#include "io/checkpoint.hpp"
#include "io/h5.hpp"
#include "io/param_io.hpp"
#include "io/version.hpp"

namespace delayprop {
namespace fs = std::filesystem;

void write_model(const std::string& path, const Network& net, std::span<const double> best,
                 std::span<const double> last, const ModelMeta& meta) {
  require(best.size() == net.n_params && last.size() == net.n_params, "write_model: parameter count");
  const std::string tmp = path + ".tmp";
  std::vector<unsigned char> image;
  {
    auto f = h5::File::create_in_memory(tmp, kSealUserblock);
    f.write_string_attr("format", "delayprop-model");
    f.write_string_attr("sealed", "fnv1a64-userblock");  // the seal is required when read
    f.write_scalar("/format_version", kModelFormatVersion);
    f.write_string("/config", meta.config_toml);
    write_params(net, best, f, "/params");
    write_params(net, last, f, "/last_params");
    f.write_scalar("/best_epoch", int64_t(meta.best_epoch));
    f.write_scalar("/epochs", int64_t(meta.epochs));
    f.write_scalar("/best_metric", meta.best_metric);
    f.write_string("/data/fingerprint", meta.data_fingerprint);
    f.write_string("/data/description", meta.data_description);
    if (!meta.summary_json.empty()) f.write_string("/summary", meta.summary_json);
    const BuildInfo& b = build_info();
    f.write_string("/build/version", b.version);
    f.write_string("/build/git_commit", b.git_commit);
    f.write_string("/build/options", b.options);
    image = f.image();
  }
  seal_image(image);
  write_file_durably(tmp, image, "model file");
  std::error_code ec;
  fs::rename(tmp, path, ec);
  require(!ec, path, ": cannot move the model file into place: ", ec.message());
}

namespace {
std::string string_or(const h5::File& f, const std::string& name) {
  if (!f.exists(name)) return "";
  const auto v = f.read_strings(name);
  return v.empty() ? "" : v[0];
}
int64_t int_or(const h5::File& f, const std::string& name, int64_t fallback) {
  if (!f.exists(name)) return fallback;
  const auto v = f.read_ints(name);
  return v.size() == 1 ? v[0] : fallback;
}
}  // namespace

StoredModel open_model(const std::string& path) {
  const bool sealed = check_seal(path);  // before HDF5 parses a possibly corrupted file
  auto f = h5::File::open_read(path);
  require(sealed || !f.has_attr("sealed"), path, ": the file checksum (user block) is missing: the file is corrupted");
  StoredModel m;
  m.path = path;
  const bool model = f.has_attr("format") && f.read_string_attr("format") == "delayprop-model";
  m.is_checkpoint = !model && f.exists("/params_flat") && f.exists("/best_params_flat");
  require(model || m.is_checkpoint, path,
          ": neither a model file (root attribute format = \"delayprop-model\") nor a checkpoint (/params_flat); "
          "a plain parameter file is used with delayprop-grad --config C --params P");
  require(f.exists("/format_version"), path, ": missing dataset '/format_version'");
  m.format_version = int_or(f, "/format_version", -1);
  if (model) {
    require(m.format_version >= 1, path, ": '/format_version' is ", m.format_version, ", not a valid model version");
    require(m.format_version <= kModelFormatVersion, path, ": '/format_version' is ", m.format_version,
            ", newer than this program reads (model format ", kModelFormatVersion, "); use a newer delayprop");
  } else {
    require(m.format_version == 1 || m.format_version == kCheckpointVersion, path, ": '/format_version' is ",
            m.format_version, ", checkpoint format not supported (this program reads 1 and ", kCheckpointVersion, ")");
  }
  require(f.exists("/config"), path, ": missing dataset '/config'");
  m.meta.config_toml = string_or(f, "/config");
  m.meta.data_fingerprint = string_or(f, "/data/fingerprint");
  if (m.meta.data_fingerprint.empty()) m.meta.data_fingerprint = string_or(f, "/data_fingerprint");
  m.meta.data_description = string_or(f, "/data/description");
  m.meta.summary_json = string_or(f, "/summary");
  m.meta.best_epoch = uint32_t(int_or(f, "/best_epoch", 0));
  m.meta.epochs = uint32_t(int_or(f, model ? "/epochs" : "/epoch", 0));
  if (f.exists("/best_metric")) m.meta.best_metric = f.read_doubles("/best_metric").at(0);
  m.version = string_or(f, "/build/version");
  m.git_commit = string_or(f, "/build/git_commit");
  m.build_options = string_or(f, "/build/options");
  return m;
}

std::vector<double> read_model_params(const StoredModel& m, const Network& net, bool best) {
  if (!m.is_checkpoint) return read_params(net, m.path, best ? "/params" : "/last_params");
  const char* name = best ? "/best_params_flat" : "/params_flat";
  auto p = read_checkpoint_array(m.path, name);  // checksum verified (format 2)
  require(p.size() == net.n_params, m.path, ": '", name, "' has ", p.size(), " parameters but the network has ",
          net.n_params, " (a checkpoint of another network?)");
  try {
    check_params(net, p);
  } catch (const Error& e) {
    fail(m.path, ": ", e.what());
  }
  return p;
}

}  // namespace delayprop
