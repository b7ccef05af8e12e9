// libFuzzer target: the apps registry file (assistant/apps.hpp), which an
// operator writes and the server reads at start and on SIGHUP. Anything is
// either refused as InvalidArgument naming where ("file" or "apps[i]...")
// or parsed; parsed apps written back as a file parse to the same apps.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "assistant/apps.hpp"

namespace {

assistant::Json ToFile(const std::vector<assistant::App>& apps) {
  assistant::Json list = assistant::Json::array();
  for (const auto& app : apps) {
    assistant::Json entry = assistant::AppToJson(app);
    entry["upstream"] = app.upstream;  // AppToJson leaves it out of responses
    list.push_back(std::move(entry));
  }
  return {{"apps", std::move(list)}};
}

bool Same(const assistant::App& a, const assistant::App& b) {
  return a.id == b.id && a.name == b.name && a.upstream == b.upstream && a.scopes == b.scopes &&
         a.allowed_origins == b.allowed_origins;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto apps = assistant::ParseApps(text);
  if (!apps.ok()) {
    const auto& status = apps.status();
    const std::string& field = status.field();
    if (status.code() != assistant::StatusCode::kInvalidArgument ||
        status.reason() != "invalid_apps_file" ||
        (field != "file" && field.rfind("apps[", 0) != 0)) {
      std::abort();
    }
    return 0;
  }
  auto again = assistant::ParseApps(ToFile(*apps).dump());
  if (!again.ok() || again->size() != apps->size()) std::abort();
  for (size_t i = 0; i < apps->size(); ++i) {
    if (!Same((*apps)[i], (*again)[i])) std::abort();
  }
  return 0;
}
