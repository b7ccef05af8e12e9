#include "config.hpp"

#include <algorithm>

#include <charconv>
#include <cstdlib>
#include <sstream>

#include "assistant/jwt.hpp"
#include "assistant/settings.hpp"
#include "trusted_proxies.hpp"

namespace assistant::server {
namespace {

enum class Kind { kString, kInt, kBool, kList };

struct Flag {
  const char* name;  // without the leading --
  const char* env;   // nullptr: no variable
  Kind kind;
  const char* def;   // default as shown in --help
  std::string help;
  // Applies a value (already checked for kind) to the config.
  std::function<Status(ServerConfig&, const std::string&)> apply;
};

Result<int> ParseInt(const std::string& flag, const std::string& v, int lo, int hi) {
  int out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size() || out < lo || out > hi) {
    // INT_FLAG passes the config field's name: the flag (in the message and
    // as the error's field, as every other flag's error) spells it with '-'.
    std::string spelled = flag;
    std::replace(spelled.begin(), spelled.end(), '_', '-');
    return InvalidArgumentError("--" + spelled + " wants an integer from " +
                                    std::to_string(lo) + " to " + std::to_string(hi),
                                spelled);
  }
  return out;
}

Result<bool> ParseBool(const std::string& flag, const std::string& v) {
  if (v == "1" || v == "true" || v == "yes" || v == "on") return true;
  if (v == "0" || v == "false" || v == "no" || v == "off" || v.empty()) return false;
  return InvalidArgumentError("--" + flag + " wants true or false", flag);
}

Status OneOf(const std::string& flag, const std::string& v,
             std::initializer_list<const char*> allowed) {
  for (const char* a : allowed) {
    if (v == a) return Status();
  }
  std::string list;
  for (const char* a : allowed) list += std::string(list.empty() ? "" : "|") + a;
  return InvalidArgumentError("--" + flag + " must be one of " + list, flag);
}

std::vector<std::string> SplitList(const std::string& v) {
  std::vector<std::string> out;
  std::stringstream ss(v);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const auto b = item.find_first_not_of(" \t");
    const auto e = item.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
  }
  return out;
}

#define INT_FLAG(field, lo, hi)                                              \
  [](ServerConfig& c, const std::string& v) -> Status {                     \
    auto r = ParseInt(#field, v, lo, hi);                                    \
    if (!r.ok()) return r.status();                                          \
    c.field = *r;                                                            \
    return Status();                                                         \
  }

const std::vector<Flag>& Flags() {
  static const std::vector<Flag> kFlags = {
      {"host", "ASSISTANT_HOST", Kind::kString, "127.0.0.1", "address to listen on",
       [](ServerConfig& c, const std::string& v) { c.host = v; return Status(); }},
      {"port", "ASSISTANT_PORT", Kind::kInt, "8000", "TCP port (0 = any free port)",
       [](ServerConfig& c, const std::string& v) -> Status {
         auto r = ParseInt("port", v, 0, 65535);
         if (!r.ok()) return r.status();
         c.port = *r;
         return Status();
       }},
      {"database", "ASSISTANT_DATABASE_URL", Kind::kString, "sqlite://assistant.db",
       "sqlite://path, sqlite:///abs/path, sqlite::memory: or postgresql://...",
       [](ServerConfig& c, const std::string& v) { c.database_url = v; return Status(); }},
      {"jwt-alg", "ASSISTANT_JWT_ALG", Kind::kString, "HS256", JwtAlgorithmNames(" | "),
       [](ServerConfig& c, const std::string& v) -> Status {
         c.jwt_alg = v;
         if (ParseJwtAlgorithm(v).ok()) return Status();
         return InvalidArgumentError("--jwt-alg must be one of " + JwtAlgorithmNames("|"),
                                     "jwt-alg");
       }},
      {"jwt-secret-file", "ASSISTANT_JWT_SECRET_FILE", Kind::kString, "(generated in development)",
       "file whose bytes (trailing whitespace removed) are the HMAC key",
       [](ServerConfig& c, const std::string& v) { c.jwt_secret_file = v; return Status(); }},
      {"jwt-key-dir", "ASSISTANT_JWT_KEY_DIR", Kind::kString, "(next to the database)",
       "directory of Ed25519 keys for --jwt-alg EdDSA",
       [](ServerConfig& c, const std::string& v) { c.jwt_key_dir = v; return Status(); }},
      {"llm-provider", "ASSISTANT_LLM_PROVIDER", Kind::kString, "rules",
       ProviderKindNames(" | "),
       [](ServerConfig& c, const std::string& v) -> Status {
         c.llm_provider = v;
         if (ParseProviderKind(v).ok()) return Status();
         return InvalidArgumentError("--llm-provider must be one of " + ProviderKindNames("|"),
                                     "llm-provider");
       }},
      {"llm-base-url", "ASSISTANT_LLM_BASE_URL", Kind::kString, "(provider default)",
       "provider base URL (openai: includes /v1)",
       [](ServerConfig& c, const std::string& v) { c.llm_base_url = v; return Status(); }},
      {"llm-model", "ASSISTANT_LLM_MODEL", Kind::kString, "(provider default)", "model name",
       [](ServerConfig& c, const std::string& v) { c.llm_model = v; return Status(); }},
      {"apps", "ASSISTANT_APPS", Kind::kString, "(none)",
       "app registry file (apps.json): /api/apps and the app proxy; re-read on SIGHUP",
       [](ServerConfig& c, const std::string& v) { c.apps = v; return Status(); }},
      {"apps-timeout", "ASSISTANT_APPS_TIMEOUT", Kind::kInt, "30",
       "seconds the app proxy waits for an app to connect and between its bytes (then 504)",
       [](ServerConfig& c, const std::string& v) -> Status {
         auto r = ParseInt("apps-timeout", v, 1, 3600);
         if (!r.ok()) return r.status();
         c.apps_timeout = *r;
         return Status();
       }},
      {"cors-origins", "ASSISTANT_CORS_ORIGINS", Kind::kList, "(none)",
       "comma-separated exact origins allowed to call from a browser",
       [](ServerConfig& c, const std::string& v) {
         c.cors_origins = SplitList(v);
         return Status();
       }},
      {"trusted-proxies", "ASSISTANT_TRUSTED_PROXIES", Kind::kList, "(none)",
       "comma-separated CIDRs (IPv4 or IPv6) of proxies whose X-Forwarded-For names the "
       "client for rate limits, audit and logs; from any other peer the header is ignored",
       [](ServerConfig& c, const std::string& v) {
         c.trusted_proxies = SplitList(v);
         const auto parsed = TrustedProxies::Parse(c.trusted_proxies);
         return parsed.ok() ? Status() : parsed.status();
       }},
      {"rate-limit-auth", "ASSISTANT_RATE_LIMIT_AUTH", Kind::kInt, "10",
       "auth requests per minute per client IP (0 = off)", INT_FLAG(rate_limit_auth, 0, 1000000)},
      {"rate-limit-api", "ASSISTANT_RATE_LIMIT_API", Kind::kInt, "100",
       "requests per minute per principal elsewhere (0 = off)",
       INT_FLAG(rate_limit_api, 0, 100000000)},
      {"rate-limit-store", "ASSISTANT_RATE_LIMIT_STORE", Kind::kString, "auto",
       "auto | database | process: where rate limits count (auto: database on PostgreSQL, so "
       "they hold across servers; process on SQLite, which saves a write per request)",
       [](ServerConfig& c, const std::string& v) {
         c.rate_limit_store = v;
         return OneOf("rate-limit-store", v, {"auto", "database", "process"});
       }},
      {"on-disconnect", "ASSISTANT_ON_DISCONNECT", Kind::kString, "continue",
       "continue | cancel: what a streamed agent turn does when its client goes away",
       [](ServerConfig& c, const std::string& v) {
         c.on_disconnect = v;
         return OneOf("on-disconnect", v, {"continue", "cancel"});
       }},
      {"log-format", "ASSISTANT_LOG_FORMAT", Kind::kString, "text", "text | json (JSON lines)",
       [](ServerConfig& c, const std::string& v) {
         c.log_format = v;
         return OneOf("log-format", v, {"text", "json"});
       }},
      {"threads", "ASSISTANT_THREADS", Kind::kInt, "128",
       "workers for ordinary requests; each open connection holds one while it is "
       "served (docs/server.md \"Worker model\")",
       INT_FLAG(threads, 1, 4096)},
      {"max-streams", "ASSISTANT_MAX_STREAMS", Kind::kInt, "512",
       "streamed replies open at once, each on a worker of its own on top of --threads; "
       "one more gets 503 with Retry-After",
       INT_FLAG(max_streams, 1, 16384)},
      {"max-streams-per-user", "ASSISTANT_MAX_STREAMS_PER_USER", Kind::kInt,
       "max(4, max-streams / 8)",
       "of those, open at once for one user (0 = the default); one more gets 429",
       INT_FLAG(max_streams_per_user, 0, 16384)},
      {"db-pool", "ASSISTANT_DB_POOL", Kind::kInt, "8",
       "PostgreSQL: most database connections this server opens; a request finding all "
       "busy waits for one (several servers: keep the sum under the database's "
       "max_connections)",
       INT_FLAG(db_pool, 1, 256)},
      {"max-turns-in-flight", "ASSISTANT_MAX_TURNS_IN_FLIGHT", Kind::kInt, "1024",
       "agent turns running at once across all users; one more is 429 agent_busy (a turn "
       "holds a thread and an upstream request for its whole length)",
       INT_FLAG(max_turns_in_flight, 1, 1000000)},
      {"max-connections", "ASSISTANT_MAX_CONNECTIONS", Kind::kInt, "4096",
       "open connections at once; one more is answered 503 and closed",
       INT_FLAG(max_connections, 1, 1000000)},
      {"max-connections-per-ip", "ASSISTANT_MAX_CONNECTIONS_PER_IP", Kind::kInt, "1024",
       "open connections at once from one client address; one more is answered 503 and closed",
       INT_FLAG(max_connections_per_ip, 1, 1000000)},
      {"header-timeout", "ASSISTANT_HEADER_TIMEOUT", Kind::kInt, "10",
       "seconds a client has to send a request's whole header block; then the connection "
       "closes",
       INT_FLAG(header_timeout, 1, 3600)},
      {"metrics-token-file", "ASSISTANT_METRICS_TOKEN_FILE", Kind::kString, "(none: open)",
       "file holding a bearer token /metrics then requires (16+ characters)",
       [](ServerConfig& c, const std::string& v) {
         c.metrics_token_file = v;
         return Status();
       }},
      {"access-token-ttl", "ASSISTANT_ACCESS_TOKEN_TTL", Kind::kInt, "900",
       "seconds an access token lives; clients refresh it before then",
       INT_FLAG(access_token_ttl, 1, 86400)},
      {"key-reload", "ASSISTANT_KEY_RELOAD", Kind::kInt, "10",
       "seconds after which a server signs with a key rotated by another (--rotate-keys)",
       INT_FLAG(key_reload, 1, 3600)},
      {"refresh-grace", "ASSISTANT_REFRESH_GRACE", Kind::kInt, "10",
       "seconds a reused refresh token gets the same pair (0 = none)",
       INT_FLAG(refresh_grace, 0, 3600)},
      {"llm-timeout", "ASSISTANT_LLM_TIMEOUT", Kind::kInt, "60",
       "seconds to wait for the provider's first byte", INT_FLAG(llm_timeout, 1, 3600)},
      {"run-retention", "ASSISTANT_RUN_RETENTION", Kind::kInt, "3600",
       "seconds finished agent runs stay replayable", INT_FLAG(run_retention, 0, 30 * 24 * 3600)},
      {"production", "ASSISTANT_PRODUCTION", Kind::kBool, "false",
       "refuse to start on a missing or weak secret; Secure cookies",
       [](ServerConfig& c, const std::string& v) -> Status {
         auto r = ParseBool("production", v);
         if (!r.ok()) return r.status();
         c.production = *r;
         return Status();
       }},
      {"body-limit", "ASSISTANT_BODY_LIMIT", Kind::kInt, "1048576",
       "largest request body in bytes (413 beyond)",
       [](ServerConfig& c, const std::string& v) -> Status {
         auto r = ParseInt("body-limit", v, 1024, 64 << 20);
         if (!r.ok()) return r.status();
         c.body_limit = static_cast<size_t>(*r);
         return Status();
       }},
      {"cookie-secure", "ASSISTANT_COOKIE_SECURE", Kind::kBool, "false",
       "mark the access_token cookie Secure (always with --production)",
       [](ServerConfig& c, const std::string& v) -> Status {
         auto r = ParseBool("cookie-secure", v);
         if (!r.ok()) return r.status();
         c.cookie_secure = *r;
         return Status();
       }},
      {"no-web", "ASSISTANT_NO_WEB", Kind::kBool, "false",
       "do not serve the web app at / (the JSON API only)",
       [](ServerConfig& c, const std::string& v) -> Status {
         auto r = ParseBool("no-web", v);
         if (!r.ok()) return r.status();
         c.web = !*r;
         return Status();
       }},
      {"reads-on-workers", "ASSISTANT_READS_ON_WORKERS", Kind::kBool, "false",
       "answer GET /api/tasks on a worker thread too, not on the I/O thread that read "
       "it (docs/server.md \"Request model\")",
       [](ServerConfig& c, const std::string& v) -> Status {
         auto r = ParseBool("reads-on-workers", v);
         if (!r.ok()) return r.status();
         c.reads_on_workers = *r;
         return Status();
       }},
      {"shutdown-timeout", "ASSISTANT_SHUTDOWN_TIMEOUT", Kind::kInt, "10",
       "seconds to let in-flight requests finish on SIGTERM/SIGINT",
       INT_FLAG(shutdown_timeout, 0, 3600)},
      {"state-dir", "ASSISTANT_STATE_DIR", Kind::kString, "(next to the database)",
       "directory for the development secret, keys and outbox (created 0700)",
       [](ServerConfig& c, const std::string& v) { c.state_dir = v; return Status(); }},
      {"outbox", "ASSISTANT_OUTBOX", Kind::kString, "(next to the database)",
       "file the default mailer appends reset and verification mails to",
       [](ServerConfig& c, const std::string& v) { c.outbox = v; return Status(); }},
      {"argon2-memory-kib", "ASSISTANT_ARGON2_MEMORY_KIB", Kind::kInt, "19456",
       "Argon2id memory cost; lower only for tests (refused with --production)",
       INT_FLAG(argon2_memory_kib, 8, 4 << 20)},
      {"argon2-iterations", "ASSISTANT_ARGON2_ITERATIONS", Kind::kInt, "2",
       "Argon2id time cost; lower only for tests (refused with --production)",
       INT_FLAG(argon2_iterations, 1, 64)},
  };
  return kFlags;
}

#undef INT_FLAG

const Flag* FindFlag(const std::string& name) {
  for (const auto& f : Flags()) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

// The flag a core settings field is set by, for messages that name it.
std::string FlagForField(const std::string& field) {
  if (field == "jwt_secret_file") return "--jwt-secret-file";
  if (field == "jwt_key_dir") return "--jwt-key-dir";
  if (field == "state_dir") return "--state-dir";
  if (field == "argon2") return "--argon2-memory-kib/--argon2-iterations";
  if (field == "provider") return "--llm-provider";
  if (field == "database") return "--database";
  return "";
}

}  // namespace

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

Result<ServerConfig> ParseConfig(const std::vector<std::string>& args, const EnvLookup& env) {
  ServerConfig c;
  // Environment first, then flags over it: the flag wins.
  for (const auto& f : Flags()) {
    if (f.env == nullptr) continue;
    if (auto v = env(f.env)) {
      Status s = f.apply(c, *v);
      if (!s.ok()) {
        return InvalidArgumentError(std::string(f.env) + ": " + s.message(), f.name);
      }
    }
  }
  if (auto key = env("ASSISTANT_LLM_API_KEY")) c.llm_api_key = *key;

  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      c.help = true;
      continue;
    }
    if (a == "--version") {
      c.version = true;
      continue;
    }
    if (a == "--copy-database") {
      if (i + 2 >= args.size()) {
        return InvalidArgumentError("--copy-database needs FROM and TO", "copy-database");
      }
      c.copy_database.emplace(args[i + 1], args[i + 2]);
      i += 2;
      continue;
    }
    if (a == "--rotate-keys") {  // a command, so no variable: it must not stick
      c.rotate_keys = true;
      continue;
    }
    if (a.rfind("--", 0) != 0) {
      return InvalidArgumentError("unexpected argument '" + a + "' (see --help)", "args");
    }
    std::string name = a.substr(2);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (name == "llm-api-key") {
      return InvalidArgumentError(
          "the LLM API key is read from ASSISTANT_LLM_API_KEY only, so it never shows in "
          "a process listing",
          name);
    }
    const Flag* f = FindFlag(name);
    if (f == nullptr) return InvalidArgumentError("unknown flag --" + name + " (see --help)", name);
    if (!value) {
      if (f->kind == Kind::kBool) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return InvalidArgumentError("--" + name + " needs a value", name);
      }
    }
    ASSISTANT_RETURN_IF_ERROR(f->apply(c, *value));
  }
  if (c.production) c.cookie_secure = true;
  return c;
}

std::string HelpText() {
  std::string out =
      "Usage: assistant-server [flags]\n"
      "\n"
      "The libassistant reference backend: the HTTP API of docs/http-api.md over\n"
      "the core library. Every flag also reads an environment variable; the flag wins.\n"
      "\n";
  for (const auto& f : Flags()) {
    std::string left = std::string("  --") + f.name;
    if (f.kind != Kind::kBool) left += " VALUE";
    out += left;
    out += std::string(left.size() < 28 ? 28 - left.size() : 1, ' ');
    out += f.help;
    out += "\n";
    out += std::string(28, ' ') + "env " + f.env + ", default " + f.def + "\n";
  }
  out +=
      "  ASSISTANT_LLM_API_KEY     the provider's API key (environment only; never logged)\n"
      "  -h, --help                this text\n"
      "  --version                 print the version\n"
      "  --copy-database FROM TO   copy the SQLite database FROM (sqlite://path or a path)\n"
      "                            into an empty TO (postgresql://... or a SQLite path),\n"
      "                            print each table's row count and exit; FROM may be\n"
      "                            in use by a running server (a consistent backup)\n"

      "  --rotate-keys             make new signing keys in the database, print their kids\n"
      "                            and exit; running servers use them within --key-reload\n";
  return out;
}

Result<Options> BuildCoreOptions(const ServerConfig& c) {
  Options o;
  o.database_url = c.database_url;
  o.production = c.production;
  o.state_dir = c.state_dir;
  ASSISTANT_ASSIGN_OR_RETURN(o.auth.jwt_algorithm, ParseJwtAlgorithm(c.jwt_alg));
  o.auth.jwt_secret_file = c.jwt_secret_file;
  o.auth.jwt_key_dir = c.jwt_key_dir;
  o.auth.password_hash.memory_kib = static_cast<uint32_t>(c.argon2_memory_kib);
  o.auth.password_hash.iterations = static_cast<uint32_t>(c.argon2_iterations);
  o.auth.refresh_grace = std::chrono::seconds(c.refresh_grace);
  o.auth.access_token_ttl = std::chrono::seconds(c.access_token_ttl);
  o.auth.signing_key_reload = std::chrono::seconds(c.key_reload);

  ASSISTANT_ASSIGN_OR_RETURN(o.agent.provider, ParseProviderKind(c.llm_provider));
  o.agent.base_url = c.llm_base_url;
  o.agent.model = c.llm_model;
  o.agent.api_key = c.llm_api_key;
  o.agent.llm_timeout = std::chrono::seconds(c.llm_timeout);
  o.agent.max_turns_in_flight = c.max_turns_in_flight;
  o.storage.pool_connections = c.db_pool;
  o.runs.retention = std::chrono::seconds(c.run_retention);
  o.runs.cancel_when_sink_gone = c.on_disconnect == "cancel";
  o.outbox_path = c.outbox;

  o.apps_path = c.apps;
  // The core's policy (assistant/settings.hpp); only its words are ours.
  // Assistant::Open applies the rest (the development secret, file places)
  // once storage is open, so a start that fails writes nothing.
  if (Status s = CheckOptions(o); !s.ok()) {
    const std::string flag = FlagForField(s.field());
    if (flag.empty()) return s;
    return Status(s.code(), flag + ": " + s.message(), s.reason(), s.field());
  }
  return o;
}

}  // namespace assistant::server
