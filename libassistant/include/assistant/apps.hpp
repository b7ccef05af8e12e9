// File: assistant/apps.hpp
//
// The app registry: the apps that share this backend's users, agent and
// memory (docs/apps.md). Each entry names an app, the upstream URL its proxy
// forwards to, the scopes it may receive in the identity token
// (X-Assistant-Identity: the caller's scopes intersected with these), and
// the browser origins allowed to call its proxy.
//
// The registry is loaded from a JSON file, {"apps":[{"id", "name",
// "upstream", "scopes":[...], "allowed_origins":[...]}]}, when the instance
// opens (Options::apps_path), and again on Reload() (the servers call it on
// SIGHUP). A malformed file or a bad entry fails naming the entry and field
// ("apps[2].upstream"); a failed reload keeps the apps already loaded.
//
// Thread safety: every method is safe to call from many threads at once;
// Reload swaps the whole set atomically, so a reader sees the old set or
// the new one, never a mix.
#ifndef ASSISTANT_APPS_HPP_
#define ASSISTANT_APPS_HPP_

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "assistant/status.hpp"
#include "assistant/types.hpp"

namespace assistant {

struct App {
  std::string id;        // [a-z0-9][a-z0-9_-]{0,63}
  std::string name;      // 1..200 characters
  std::string upstream;  // http:// or https:// URL; {path} and the query are appended
  std::vector<std::string> scopes;           // what the app may receive (known scopes)
  std::vector<std::string> allowed_origins;  // exact origins: scheme://host[:port]
};

// The apps of one file, parsed and checked. InvalidArgument naming the
// entry and field (`field` = "apps[1].scopes") for anything malformed;
// duplicate ids are an error.
Result<std::vector<App>> ParseApps(std::string_view json_text);

class AppRegistry {
 public:
  // An empty registry; with a path, Reload() reads that file.
  explicit AppRegistry(std::string path = {});

  // Reads the file again and, if it is valid, replaces the apps. An empty
  // path leaves the registry empty. On error the apps stay as they were.
  Status Reload();
  // Replaces the apps (an embedding program's own list).
  void Set(std::vector<App> apps);

  // The apps, in file order. NotFound for an unknown id.
  std::vector<App> List() const;
  Result<App> Get(const std::string& id) const;
  const std::string& path() const { return path_; }

 private:
  std::shared_ptr<const std::vector<App>> Snapshot() const;

  std::string path_;
  mutable std::mutex mu_;
  std::shared_ptr<const std::vector<App>> apps_;
};

// {"id", "name", "scopes", "allowed_origins"}: what a client may see. The
// upstream URL is the operator's, and stays out of responses.
Json AppToJson(const App& app);

}  // namespace assistant

#endif  // ASSISTANT_APPS_HPP_
