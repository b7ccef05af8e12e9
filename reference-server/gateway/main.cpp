// assistant-gateway: the middleware tier in front of one or more
// assistant-server backends (docs/gateway.md).
//   assistant-gateway --backend http://127.0.0.1:8001,http://127.0.0.1:8002 --port 8000
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "assistant/options.hpp"
#include "gateway.hpp"
#include "logger.hpp"
#include "trusted_proxies.hpp"

namespace {

const char* kUsage =
    "usage: assistant-gateway --backend URL[,URL...] [options]\n"
    "  --backend URLS         backends (assistant-server), comma-separated\n"
    "  --host HOST            listen address (127.0.0.1)\n"
    "  --port N               listen port, 0 = any free port (8080)\n"
    "  --cors-origins LIST    comma-separated exact origins allowed from a browser\n"
    "  --rate-limit N         requests per minute per client IP, 0 = off (600)\n"
    "  --trusted-proxies LIST comma-separated CIDRs whose X-Forwarded-For names the client\n"
    "  --body-limit BYTES     largest request body (1048576)\n"
    "  --timeout S            seconds to connect and of silence while reading (60)\n"
    "  --health-interval MS   milliseconds between backend health checks (1000)\n"
    "  --threads N            worker threads; a stream holds one (256)\n"
    "  --token-check MODE     jwks (EdDSA tokens checked locally), verify\n"
    "                         (/api/auth/verify, cached) or off (verify)\n"
    "  --jwks-refresh MS      at most one JWKS fetch per MS (10000)\n"
    "  --verify-cache MS      how long a verify answer is reused (5000)\n"
    "  --apps FILE            the app registry (apps.json), re-read on SIGHUP\n"
    "  --identity-keys DIR    the servers' identity key directory (with --apps), or:\n"
    "  --database URL         the servers' database, where their identity key is stored,\n"
    "  --jwt-secret-file F    with their JWT secret, which seals it (with --apps)\n"
    "  --apps-timeout S       seconds to connect to an app and of its silence (30)\n"
    "  --forward-on-workers   forward every request from a worker thread, none on the\n"
    "                         I/O threads (a diagnostic, and a fallback)\n";

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find(',', i);
    if (j == std::string::npos) j = s.size();
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

bool ParseNumber(const std::string& text, long min, long max, long* out) {
  char* end = nullptr;
  const long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || v < min || v > max) return false;
  *out = v;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  assistant::gateway::GatewayConfig config;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (flag == "--forward-on-workers") {  // takes no value
      config.forward_on_workers = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "assistant-gateway: %s needs a value\n%s", flag.c_str(), kUsage);
      return 2;
    }
    const std::string value = argv[++i];
    long n = 0;
    bool ok = true;
    if (flag == "--backend") {
      config.backends = SplitList(value);
    } else if (flag == "--host") {
      config.host = value;
    } else if (flag == "--port") {
      ok = ParseNumber(value, 0, 65535, &n) && ((config.port = static_cast<int>(n)), true);
    } else if (flag == "--cors-origins") {
      config.cors_origins = SplitList(value);
    } else if (flag == "--rate-limit") {
      ok = ParseNumber(value, 0, 1000000, &n) && ((config.rate_limit = static_cast<int>(n)), true);
    } else if (flag == "--trusted-proxies") {
      auto parsed = assistant::server::TrustedProxies::Parse(SplitList(value));
      if (!parsed.ok()) {
        std::fprintf(stderr, "assistant-gateway: %s\n", parsed.status().message().c_str());
        return 2;
      }
      config.trusted_proxies = *std::move(parsed);
    } else if (flag == "--body-limit") {
      ok = ParseNumber(value, 1, 1L << 30, &n) && ((config.body_limit = static_cast<size_t>(n)), true);
    } else if (flag == "--timeout") {
      ok = ParseNumber(value, 1, 3600, &n) && ((config.timeout = static_cast<int>(n)), true);
    } else if (flag == "--health-interval") {
      ok = ParseNumber(value, 50, 600000, &n) &&
           ((config.health_interval_ms = static_cast<int>(n)), true);
    } else if (flag == "--threads") {
      ok = ParseNumber(value, 1, 10000, &n) && ((config.threads = static_cast<int>(n)), true);
    } else if (flag == "--token-check") {
      using Mode = assistant::gateway::TokenCheck::Mode;
      ok = value == "jwks" || value == "verify" || value == "off";
      config.token_check = value == "jwks" ? Mode::kJwks : value == "off" ? Mode::kOff : Mode::kVerify;
    } else if (flag == "--jwks-refresh") {
      ok = ParseNumber(value, 0, 3600000, &n) &&
           ((config.jwks_refresh_ms = static_cast<int>(n)), true);
    } else if (flag == "--verify-cache") {
      ok = ParseNumber(value, 0, 3600000, &n) &&
           ((config.verify_cache_ms = static_cast<int>(n)), true);
    } else if (flag == "--apps") {
      config.apps_path = value;
    } else if (flag == "--identity-keys") {
      config.identity_key_dir = value;
    } else if (flag == "--database") {
      config.database_url = value;
    } else if (flag == "--jwt-secret-file") {
      config.jwt_secret_file = value;
    } else if (flag == "--apps-timeout") {
      ok = ParseNumber(value, 1, 3600, &n) && ((config.apps_timeout = static_cast<int>(n)), true);
    } else {
      std::fprintf(stderr, "assistant-gateway: unknown flag %s\n%s", flag.c_str(), kUsage);
      return 2;
    }
    if (!ok) {
      std::fprintf(stderr, "assistant-gateway: bad value for %s\n", flag.c_str());
      return 2;
    }
  }
  if (config.backends.empty()) {
    std::fprintf(stderr, "assistant-gateway: --backend is required\n%s", kUsage);
    return 2;
  }

  assistant::server::Logger logger(assistant::server::LogFormat::kText);
  auto apps = assistant::gateway::GatewayApps::Open(
      config.apps_path,
      assistant::gateway::IdentityKeySource{config.identity_key_dir, config.database_url,
                                            config.jwt_secret_file},
      assistant::AuthOptions().issuer,
      std::chrono::seconds(config.apps_timeout), logger);
  if (!apps.ok()) {
    std::fprintf(stderr, "assistant-gateway: %s%s%s\n", apps.status().message().c_str(),
                 apps.status().field().empty() ? "" : " at ", apps.status().field().c_str());
    return 2;
  }
  assistant::gateway::Gateway gateway(config, *std::move(apps), logger);
  if (!gateway.Bind()) {
    logger.Error("cannot listen", {{"host", config.host}, {"port", config.port}});
    return 1;
  }
  logger.Info("listening", {{"host", config.host},
                            {"port", gateway.port()},
                            {"backends", static_cast<int64_t>(config.backends.size())}});
  std::thread signal_thread([&] {
    int sig = 0;
    while (sigwait(&stop_signals, &sig) == 0 && sig == SIGHUP) {
      // A bad file keeps the apps already loaded.
      if (assistant::Status st = gateway.ReloadApps(); st.ok()) {
        logger.Info("apps reloaded");
      } else {
        logger.Error("apps reload failed; keeping the loaded apps",
                     {{"cause", st.ToString()}, {"field", st.field()}});
      }
    }
    logger.Info("shutting down");
    gateway.Stop();
  });
  signal_thread.detach();
  gateway.Run();
  logger.Info("stopped");
  logger.Flush();
  return 0;
}
