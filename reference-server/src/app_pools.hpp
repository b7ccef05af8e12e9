// Kept-alive connections to the registry's apps, for the app proxy
// (app_forward.hpp): one UpstreamPool per app id, for the upstream its
// entry names now, so that calls to an app do not pay a TCP (or TLS)
// handshake each. When the registry is re-read (SIGHUP), Keep retires the
// pool of an app that is gone or whose upstream changed: its idle
// connections are closed at once, and those in use when their calls end.
//
// Thread safety: For and Keep may be called from any thread at once.
#ifndef ASSISTANT_SERVER_APP_POOLS_HPP_
#define ASSISTANT_SERVER_APP_POOLS_HPP_

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "assistant/apps.hpp"
#include "upstream_pool.hpp"

namespace assistant::server {

// "http://host:9000/base" -> {"http://host:9000", "/base"} (no trailing
// slash). The registry checked the URL's form when it loaded it.
std::pair<std::string, std::string> SplitAppUpstream(const std::string& url);

class AppPools {
 public:
  // The pool for `app`'s upstream: the one kept for its id, or a new one
  // when there is none or the entry's upstream changed (the old one is
  // then retired). Never null. An `app` the last Keep did not list as it is
  // (a call that read the registry just before a reload) gets a pool of its
  // own that nothing keeps, so no pool outlives its registry entry.
  std::shared_ptr<UpstreamPool> For(const App& app);
  // Retires the pools of apps not in `apps` (the registry as just loaded)
  // or whose upstream differs there.
  void Keep(const std::vector<App>& apps);

 private:
  struct Entry {
    std::string upstream;  // the entry's URL the pool was made for
    std::shared_ptr<UpstreamPool> pool;
  };
  std::mutex mu_;
  std::unordered_map<std::string, Entry> pools_;  // by app id
  bool kept_ = false;                              // Keep has run
  std::unordered_map<std::string, std::string> listed_;  // id -> upstream, by the last Keep
};

}  // namespace assistant::server

#endif  // ASSISTANT_SERVER_APP_POOLS_HPP_
