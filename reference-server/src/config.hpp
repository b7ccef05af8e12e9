// assistant-server's configuration: the flags of docs/server.md
// "Configuration", each with an ASSISTANT_* environment variable (the flag
// wins). One table drives parsing,
// --help and the docs, so they cannot disagree.
#ifndef ASSISTANT_SERVER_CONFIG_HPP_
#define ASSISTANT_SERVER_CONFIG_HPP_

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "assistant/options.hpp"
#include "assistant/status.hpp"

namespace assistant::server {

struct ServerConfig {
  std::string host = "127.0.0.1";
  int port = 8000;
  std::string database_url = "sqlite://assistant.db";
  std::string jwt_alg = "HS256";
  std::string jwt_secret_file;
  std::string jwt_key_dir;
  std::string llm_provider = "rules";
  std::string llm_base_url;
  std::string llm_model;
  std::string llm_api_key;  // environment only: never on a command line
  std::string apps;         // registry file (apps.json)
  int apps_timeout = 30;    // seconds: app proxy connect and read timeout
  std::vector<std::string> cors_origins;
  // Peers (CIDRs) whose X-Forwarded-For names the client (trusted_proxies.hpp).
  std::vector<std::string> trusted_proxies;
  int rate_limit_auth = 10;  // per client IP per minute; 0 = off
  int rate_limit_api = 100;  // per principal per minute; 0 = off
  // Where the limits count: "database" (shared by every server on it),
  // "process", or "auto" (database on PostgreSQL, process on SQLite).
  std::string rate_limit_store = "auto";
  std::string on_disconnect = "continue";  // continue | cancel
  std::string log_format = "text";         // text | json
  int threads = 128;      // workers for ordinary requests
  int max_streams = 512;  // open agent streams, each on a worker of its own
  int max_streams_per_user = 0;  // of them, one user's; 0 = max(4, max_streams / 8)
  int max_turns_in_flight = 1024;    // AgentOptions::max_turns_in_flight
  int db_pool = 8;                   // StorageOptions::pool_connections (PostgreSQL)
  int max_connections = 4096;        // open at once; one more: 503 and close
  int max_connections_per_ip = 1024; // from one client address
  int header_timeout = 10;           // seconds for a request's whole header block
  std::string metrics_token_file;  // /metrics needs its token when set
  std::string metrics_token;       // read from it at start (main.cpp)
  int refresh_grace = 10;   // seconds
  int access_token_ttl = 900;  // seconds
  int key_reload = 10;         // seconds: stored signing keys are read again
  int llm_timeout = 60;     // seconds
  int run_retention = 3600; // seconds
  bool production = false;
  // Every request on a worker, GET /api/tasks too (which is otherwise
  // answered on the I/O thread that read it: server.hpp TakeOnIo).
  bool reads_on_workers = false;
  // Extras.
  size_t body_limit = 1 << 20;  // bytes
  bool cookie_secure = false;   // forced on by --production
  bool web = true;              // serve the web app at / (--no-web: off)
  int shutdown_timeout = 10;    // seconds to drain in-flight requests
  std::string outbox;           // default: the core's state paths
  std::string state_dir;        // default: next to the SQLite file
  int argon2_memory_kib = 19 * 1024;
  int argon2_iterations = 2;
  bool help = false;
  bool version = false;
  // --copy-database FROM TO: copy and exit instead of serving.
  std::optional<std::pair<std::string, std::string>> copy_database;
  bool rotate_keys = false;  // --rotate-keys: rotate the stored signing keys and exit
};

using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
// The process environment.
EnvLookup ProcessEnv();

// Parses `args` (without argv[0]) over the environment. InvalidArgument
// naming the flag for an unknown flag, a missing value or a bad value.
Result<ServerConfig> ParseConfig(const std::vector<std::string>& args, const EnvLookup& env);

// --help text: every flag, its variable, default and meaning.
std::string HelpText();

// Turns the configuration into the core's Options and checks them against
// the core's policy (assistant/settings.hpp CheckOptions: production
// refusals are FailedPrecondition "weak_secret"), writing nothing; the
// message of a refusal names the flag to change. Assistant::Open then makes
// the development secret and places keys and outbox, logging what it
// decided through Options::logger.
Result<Options> BuildCoreOptions(const ServerConfig& config);

}  // namespace assistant::server

#endif  // ASSISTANT_SERVER_CONFIG_HPP_
