#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "assistant/apps.hpp"
#include "assistant/auth.hpp"
#include "common/text.hpp"
#include "llm/base_url.hpp"

namespace assistant {
namespace {

Status Bad(const std::string& where, const std::string& why) {
  return InvalidArgumentError("apps: " + where + " " + why, where, "invalid_apps_file");
}

bool IsAppId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    const char c = id[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '-' && c != '_'))) return false;
  }
  return true;
}

// An exact browser origin: scheme://host[:port], nothing after it.
bool IsOrigin(const std::string& origin) {
  auto url = llm::ParseBaseUrl(origin);
  return url.ok() && url->path_prefix.empty() && origin.back() != '/';
}

Result<std::string> Text(const Json& entry, const char* key, const std::string& where,
                         bool required) {
  auto it = entry.find(key);
  if (it == entry.end() || it->is_null()) {
    if (required) return Bad(where + "." + key, "is required");
    return std::string();
  }
  if (!it->is_string()) return Bad(where + "." + key, "must be a string");
  return it->get<std::string>();
}

Result<std::vector<std::string>> Strings(const Json& entry, const char* key,
                                         const std::string& where) {
  std::vector<std::string> out;
  auto it = entry.find(key);
  if (it == entry.end() || it->is_null()) return out;
  if (!it->is_array()) return Bad(where + "." + key, "must be an array of strings");
  for (size_t i = 0; i < it->size(); ++i) {
    const Json& v = (*it)[i];
    if (!v.is_string()) {
      return Bad(where + "." + key + "[" + std::to_string(i) + "]", "must be a string");
    }
    out.push_back(v.get<std::string>());
  }
  return out;
}

Result<App> ParseApp(const Json& entry, const std::string& where) {
  if (!entry.is_object()) return Bad(where, "must be an object");
  static const std::set<std::string> kKeys = {"id", "name", "upstream", "scopes",
                                              "allowed_origins"};
  for (const auto& [key, value] : entry.items()) {
    if (kKeys.count(key) == 0) return Bad(where + "." + key, "is not a field of an app");
  }
  App app;
  ASSISTANT_ASSIGN_OR_RETURN(app.id, Text(entry, "id", where, true));
  if (!IsAppId(app.id)) {
    return Bad(where + ".id", "must be 1-64 of a-z, 0-9, '-' and '_', starting with a letter or digit");
  }
  ASSISTANT_ASSIGN_OR_RETURN(app.name, Text(entry, "name", where, true));
  if (app.name.empty() || !text::IsValidUtf8(app.name) || text::CharCount(app.name) > 200) {
    return Bad(where + ".name", "must be 1-200 characters");
  }
  ASSISTANT_ASSIGN_OR_RETURN(app.upstream, Text(entry, "upstream", where, true));
  if (!llm::ParseBaseUrl(app.upstream).ok()) {
    return Bad(where + ".upstream", "must be http(s)://host[:port][/path] without user, query or fragment");
  }
  ASSISTANT_ASSIGN_OR_RETURN(app.scopes, Strings(entry, "scopes", where));
  const auto& known = KnownScopes();
  for (size_t i = 0; i < app.scopes.size(); ++i) {
    if (std::find(known.begin(), known.end(), app.scopes[i]) == known.end()) {
      return Bad(where + ".scopes[" + std::to_string(i) + "]",
                 "is not a known scope (\"" + app.scopes[i] + "\")");
    }
  }
  ASSISTANT_ASSIGN_OR_RETURN(app.allowed_origins, Strings(entry, "allowed_origins", where));
  for (size_t i = 0; i < app.allowed_origins.size(); ++i) {
    if (!IsOrigin(app.allowed_origins[i])) {
      return Bad(where + ".allowed_origins[" + std::to_string(i) + "]",
                 "must be an exact origin, scheme://host[:port]");
    }
  }
  return app;
}

}  // namespace

Result<std::vector<App>> ParseApps(std::string_view json_text) {
  Json doc = Json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Bad("file", "is not valid JSON");
  if (!doc.is_object() || !doc.contains("apps") || !doc["apps"].is_array()) {
    return Bad("file", "must be an object {\"apps\": [...]}");
  }
  std::vector<App> apps;
  std::set<std::string> ids;
  const Json& list = doc["apps"];
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string where = "apps[" + std::to_string(i) + "]";
    ASSISTANT_ASSIGN_OR_RETURN(App app, ParseApp(list[i], where));
    if (!ids.insert(app.id).second) return Bad(where + ".id", "repeats \"" + app.id + "\"");
    apps.push_back(std::move(app));
  }
  return apps;
}

AppRegistry::AppRegistry(std::string path)
    : path_(std::move(path)), apps_(std::make_shared<const std::vector<App>>()) {}

Status AppRegistry::Reload() {
  if (path_.empty()) return Status::Ok();
  std::ifstream in(path_, std::ios::binary);
  if (!in) return Bad("file", "cannot be read: " + path_);
  std::stringstream text;
  text << in.rdbuf();
  ASSISTANT_ASSIGN_OR_RETURN(auto apps, ParseApps(text.str()));
  Set(std::move(apps));
  return Status::Ok();
}

void AppRegistry::Set(std::vector<App> apps) {
  auto next = std::make_shared<const std::vector<App>>(std::move(apps));
  std::lock_guard<std::mutex> lock(mu_);
  apps_ = std::move(next);
}

std::shared_ptr<const std::vector<App>> AppRegistry::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return apps_;
}

std::vector<App> AppRegistry::List() const { return *Snapshot(); }

Result<App> AppRegistry::Get(const std::string& id) const {
  auto apps = Snapshot();
  for (const auto& app : *apps) {
    if (app.id == id) return app;
  }
  return NotFoundError("no app \"" + id + "\"");
}

Json AppToJson(const App& app) {
  return {{"id", app.id},
          {"name", app.name},
          {"scopes", app.scopes},
          {"allowed_origins", app.allowed_origins}};
}

}  // namespace assistant
