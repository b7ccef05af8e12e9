// assistant-server: the libassistant reference backend. Parses the
// configuration, opens the core, serves HTTP until SIGTERM/SIGINT, then
// drains in-flight requests and closes storage. Everything else lives in
// the assistant_http library (src/).
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "assistant/core.hpp"
#include "config.hpp"
#include "logger.hpp"
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

}  // namespace

int main(int argc, char** argv) {
  // Signals are taken by one thread with sigwait, so no handler runs on a
  // worker thread in the middle of a request. Blocked before any thread
  // starts, so every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a client that hangs up is a failed write, not a crash

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

  Logger logger(config->log_format == "json" ? assistant::server::LogFormat::kJson
                                              : assistant::server::LogFormat::kText);
  auto setup = assistant::server::BuildCoreOptions(*config);
  if (!setup.ok()) {
    logger.Error("refusing to start", {{"cause", setup.status().message()}});
    return 1;
  }
  for (const auto& note : setup->notes) logger.Info(note);
  auto core = assistant::Assistant::Open(setup->options);
  if (!core.ok()) {
    logger.Error("cannot open the core", {{"cause", core.status().ToString()}});
    return 1;
  }

  assistant::server::HttpServer server(**core, *config, logger);
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
                            {"version", assistant::server::kServerVersion}});

  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  bool drained = false;

  // Maintenance: a WAL checkpoint at least once a minute, so deleted text
  // leaves the database files (SPEC.md "Deleted text").
  std::thread maintenance([&] {
    std::unique_lock<std::mutex> lock(mu);
    while (!cv.wait_for(lock, std::chrono::seconds(60), [&] { return stopping; })) {
      lock.unlock();
      if (auto s = (*core)->storage().Checkpoint(); !s.ok()) {
        logger.Warn("checkpoint failed", {{"cause", s.ToString()}});
      }
      lock.lock();
    }
  });

  std::thread signal_thread([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    logger.Info("shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"},
                                  {"deadline_s", config->shutdown_timeout}});
    {
      std::lock_guard<std::mutex> lock(mu);
      stopping = true;
    }
    cv.notify_all();
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
    stopping = true;
    drained = true;
  }
  cv.notify_all();
  maintenance.join();
  if (auto s = (*core)->storage().Checkpoint(); !s.ok()) {
    logger.Warn("final checkpoint failed", {{"cause", s.ToString()}});
  }
  core->reset();  // closes storage
  logger.Info("stopped");
  logger.Flush();
  return 0;
}
