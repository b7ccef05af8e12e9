#include "app_pools.hpp"

namespace assistant::server {

std::pair<std::string, std::string> SplitAppUpstream(const std::string& url) {
  const size_t scheme = url.find("://");
  const size_t slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (slash == std::string::npos) return {url, ""};
  std::string base = url.substr(slash);
  while (!base.empty() && base.back() == '/') base.pop_back();
  return {url.substr(0, slash), base};
}

std::shared_ptr<UpstreamPool> AppPools::For(const App& app) {
  std::shared_ptr<UpstreamPool> pool, retired;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (kept_) {
      auto listed = listed_.find(app.id);
      if (listed == listed_.end() || listed->second != app.upstream) {
        return std::make_shared<UpstreamPool>(SplitAppUpstream(app.upstream).first);
      }
    }
    Entry& e = pools_[app.id];
    if (!e.pool || e.upstream != app.upstream) {
      retired = std::move(e.pool);
      e.upstream = app.upstream;
      e.pool = std::make_shared<UpstreamPool>(SplitAppUpstream(app.upstream).first);
    }
    pool = e.pool;
  }
  if (retired) retired->Close();
  return pool;
}

void AppPools::Keep(const std::vector<App>& apps) {
  std::vector<std::shared_ptr<UpstreamPool>> retired;
  {
    std::lock_guard<std::mutex> lock(mu_);
    kept_ = true;
    listed_.clear();
    for (const App& app : apps) listed_[app.id] = app.upstream;
    for (auto it = pools_.begin(); it != pools_.end();) {
      bool kept = false;
      for (const App& app : apps) {
        if (app.id == it->first) kept = app.upstream == it->second.upstream;
      }
      if (kept) {
        ++it;
      } else {
        retired.push_back(std::move(it->second.pool));
        it = pools_.erase(it);
      }
    }
  }
  for (auto& pool : retired) pool->Close();
}

}  // namespace assistant::server
