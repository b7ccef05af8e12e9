// assistant-server: the libassistant reference backend. Parses the
// configuration, opens the core, serves HTTP until SIGTERM/SIGINT, then
// drains in-flight requests and closes storage. Everything else lives in
// the assistant_http library (src/).
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "assistant/copy.hpp"
#include "assistant/core.hpp"
#include "config.hpp"
#include "logger.hpp"
#include "metrics_access.hpp"
#include "server.hpp"
#include "version_info.hpp"

namespace {

using assistant::server::Logger;

// postgresql://user:secret@host/db -> postgresql://user:***@host/db
std::string RedactUrl(const std::string& url) {
  const auto scheme = url.find("://");
  const auto at = url.find('@');
  if (scheme == std::string::npos || at == std::string::npos || at < scheme) return url;
  const auto colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

// Stack of every thread the process starts (docs/server.md "Worker model").
// A streaming server runs hundreds of threads; glibc's default (the
// 8 MiB stack rlimit) is mostly untouched, but it all counts against
// RLIMIT_AS and strict overcommit. 512 KiB holds everything that recurses
// here: request bodies are refused beyond 64 levels of JSON, SQLite bounds
// its own recursion, and nlohmann::json copies and dumps JSON from an LLM
// upstream (which has no depth limit) to about 3,000 levels (256 KiB: 1,000).
constexpr size_t kThreadStackBytes = 512 * 1024;

void SetThreadStackSize() {
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) != 0) return;
  if (pthread_attr_setstacksize(&attr, kThreadStackBytes) == 0) {
    pthread_setattr_default_np(&attr);
  }
  pthread_attr_destroy(&attr);
}

// Each open stream holds two sockets (its client, its LLM upstream): 500
// streams exceed the common soft limit of 1024 descriptors. The soft limit
// goes up to the hard one. Returns the limit in force.
rlim_t RaiseFileLimit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) return raised.rlim_cur;
  }
  return lim.rlim_cur;
}

}  // namespace

int main(int argc, char** argv) {
  // Before any thread starts, so that every thread gets it.
  SetThreadStackSize();
  const rlim_t file_limit = RaiseFileLimit();

  // Signals are taken by one thread with sigwait, so no handler runs on a
  // worker thread in the middle of a request. Blocked before any thread
  // starts, so every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGHUP);  // not a stop: re-reads the app registry
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a client that hangs up is a failed write, not a crash
  // Every file the server creates (database, WAL, keys, outbox) holds
  // secrets or users' data: readable by its owner only, whatever the
  // caller's umask.
  ::umask(077);

  std::vector<std::string> args(argv + 1, argv + argc);
  auto config = assistant::server::ParseConfig(args, assistant::server::ProcessEnv());
  if (!config.ok()) {
    std::fprintf(stderr, "assistant-server: %s\n", config.status().message().c_str());
    return 2;
  }
  if (config->help) {
    std::fputs(assistant::server::HelpText().c_str(), stdout);
    return 0;
  }
  if (config->version) {
    std::printf("assistant-server %s\n", assistant::server::kServerVersion);
    return 0;
  }
  if (config->copy_database) {
    const auto& [from, to] = *config->copy_database;
    auto report = assistant::CopyDatabase(from, to);
    if (!report.ok()) {
      std::fprintf(stderr, "assistant-server: copy failed: %s\n",
                   report.status().ToString().c_str());
      return 1;
    }
    for (const auto& t : report->tables) {
      std::printf("%-16s %lld\n", t.table.c_str(), static_cast<long long>(t.rows));
    }
    std::printf("copied; every table's count on the target equals the source's\n");
    return 0;
  }

  Logger logger(config->log_format == "json" ? assistant::server::LogFormat::kJson
                                              : assistant::server::LogFormat::kText);
  auto options = assistant::server::BuildCoreOptions(*config);
  if (!options.ok()) {
    logger.Error("refusing to start", {{"cause", options.status().message()}});
    return 1;
  }
  if (!config->metrics_token_file.empty()) {
    auto token = assistant::server::LoadMetricsToken(config->metrics_token_file);
    if (!token.ok()) {
      logger.Error("refusing to start", {{"cause", token.status().message()}});
      return 1;
    }
    config->metrics_token = std::move(*token);
  }
  // A stream needs two descriptors; ordinary connections, SQLite and the
  // listener need the rest.
  const rlim_t files_wanted =
      2 * static_cast<rlim_t>(config->max_streams) + static_cast<rlim_t>(config->threads) + 64;
  if (file_limit != RLIM_INFINITY && file_limit < files_wanted) {
    logger.Warn("the open-file limit is below what --max-streams needs",
                {{"limit", static_cast<int64_t>(file_limit)},
                 {"wanted", static_cast<int64_t>(files_wanted)}});
  }
  options->logger = assistant::server::CoreLogger(logger);
  auto product_metrics = std::make_shared<assistant::server::ProductMetrics>();
  options->observer = product_metrics;
  auto core = assistant::Assistant::Open(*options);
  if (!core.ok()) {
    logger.Error("cannot open the core", {{"cause", core.status().ToString()}});
    return 1;
  }

  if (config->rotate_keys) {
    auto kids = (*core)->auth().RotateSigningKeys();
    if (!kids.ok()) {
      logger.Error("cannot rotate the signing keys", {{"cause", kids.status().ToString()}});
      return 1;
    }
    for (const std::string& kid : *kids) std::printf("%s\n", kid.c_str());
    return 0;
  }

  assistant::server::HttpServer server(**core, *config, logger, product_metrics.get());
  if (auto s = server.Bind(); !s.ok()) {
    logger.Error("cannot listen", {{"cause", s.message()}});
    return 1;
  }
  logger.Info("listening", {{"host", config->host},
                            {"port", server.port()},
                            {"database", RedactUrl(config->database_url)},
                            {"llm_provider", config->llm_provider},
                            {"jwt_alg", config->jwt_alg},
                            {"threads", config->threads},
                            {"max_streams", config->max_streams},
                            {"version", assistant::server::kServerVersion}});

  std::mutex mu;
  std::condition_variable cv;
  bool drained = false;

  std::thread signal_thread([&] {
    int sig = 0;
    while (sigwait(&stop_signals, &sig) == 0 && sig == SIGHUP) {
      // Requests in flight keep the registry they started with (Reload
      // swaps the whole set); a bad file keeps the old one. Kept
      // connections to apps gone or moved are closed.
      const assistant::Status reloaded = server.ReloadApps();
      if (reloaded.ok()) {
        logger.Info("app registry reloaded",
                    {{"apps", static_cast<int64_t>((*core)->apps().List().size())}});
      } else {
        logger.Error("app registry not reloaded; keeping the previous one",
                     {{"cause", reloaded.message()}, {"field", reloaded.field()}});
      }
    }
    logger.Info("shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"},
                                  {"deadline_s", config->shutdown_timeout}});
    server.Stop();
    std::unique_lock<std::mutex> lock(mu);
    if (!cv.wait_for(lock, std::chrono::seconds(config->shutdown_timeout),
                     [&] { return drained; })) {
      // Requests still running past the deadline are abandoned; SQLite's WAL
      // keeps every committed write.
      logger.Warn("in-flight requests did not finish before the deadline; exiting");
      logger.Flush();
      _exit(0);
    }
  });
  signal_thread.detach();

  server.Run();  // returns once stopped and every worker has finished

  {
    std::lock_guard<std::mutex> lock(mu);
    drained = true;
  }
  cv.notify_all();
  // The core checkpoints once a minute while open and once more here, so
  // deleted text leaves the database files (docs/storage.md "Deletes are hard").
  core->reset();  // closes storage
  logger.Info("stopped");
  logger.Flush();
  return 0;
}
