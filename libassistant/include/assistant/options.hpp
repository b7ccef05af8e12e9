// File: assistant/options.hpp
//
// Settings of one embedded libassistant instance. Plain structs with
// defaults; the reference servers fill them from flags and environment
// variables (docs/server.md "Configuration"), the C ABI from `config_json`.
#ifndef ASSISTANT_OPTIONS_HPP_
#define ASSISTANT_OPTIONS_HPP_

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "assistant/clock.hpp"
#include "assistant/jwt.hpp"
#include "assistant/llm.hpp"
#include "assistant/logger.hpp"
#include "assistant/observer.hpp"
#include "assistant/mailer.hpp"
#include "assistant/storage.hpp"

namespace assistant {

// Argon2id cost. Defaults: OWASP's minimum (m=19 MiB, t=2, p=1).
struct PasswordHashOptions {
  uint32_t memory_kib = 19 * 1024;
  uint32_t iterations = 2;
  uint32_t parallelism = 1;
  // Hashing runs in a bounded pool so a burst of logins cannot starve
  // other work. Threads: default 2. Waiting jobs beyond `queue_limit`
  // fail fast with ResourceExhausted (reason "busy"). Default 256.
  int threads = 2;
  int queue_limit = 256;
};

struct AuthOptions {
  // Default: HS256.
  JwtAlgorithm jwt_algorithm = JwtAlgorithm::kHS256;
  // HS256 key bytes. Required for HS256; without it Assistant::Open reads
  // `jwt_secret_file` or makes a development secret (assistant/settings.hpp).
  // Also keys refresh-token derivation in both modes.
  std::string jwt_secret;
  // File holding the secret (trailing whitespace removed), read when
  // `jwt_secret` is empty. Default: empty.
  std::string jwt_secret_file;
  // EdDSA key directory. Default: empty, which Assistant::Open fills from
  // the state paths (assistant/settings.hpp; in memory for an in-memory
  // database). With a JWT secret the EdDSA keys live in storage instead
  // (docs/storage.md "Signing keys"): this directory's keys are imported
  // once, into storage that holds none.
  std::string jwt_key_dir;
  // Directory of the identity key that signs tokens for apps; as
  // `jwt_key_dir`, imported once into storage. Default: empty =
  // `jwt_key_dir`/identity when that is given, else the state paths.
  std::string identity_key_dir;
  // How often stored signing keys are read again, which bounds how long
  // after a rotation elsewhere this instance still signs with the older
  // key. A token naming an unknown kid is a reason to read them at once.
  // Default: 10 s.
  std::chrono::milliseconds signing_key_reload{10000};
  std::string issuer = "libassistant";
  std::string audience = "libassistant";
  std::chrono::seconds access_token_ttl{15 * 60};
  std::chrono::seconds refresh_token_ttl{30 * 24 * 3600};
  // A second use of a refresh token within this window gets the same pair.
  // 0 = no grace. Default: 10 s.
  std::chrono::seconds refresh_grace{10};
  std::chrono::seconds password_reset_ttl{3600};
  std::chrono::seconds email_verification_ttl{24 * 3600};
  // How long a "session is live" answer may be reused before storage is
  // asked again. Revocations on this instance apply at once; other
  // instances on the same database see them within this time. Default 500 ms.
  std::chrono::milliseconds session_cache_ttl{500};
  PasswordHashOptions password_hash;
};

// The built-in LLM providers (AgentOptions::provider names one).
enum class ProviderKind { kRules, kOpenAi, kOllama, kCohere };
// "rules", "openai", "ollama", "cohere".
const char* ProviderKindName(ProviderKind kind);
// Exact names; "" is rules. InvalidArgument (field "provider") otherwise.
Result<ProviderKind> ParseProviderKind(std::string_view name);

struct AgentOptions {
  // The built-in provider. Default: rules (offline). Ignored when `llm` is
  // set.
  ProviderKind provider = ProviderKind::kRules;
  // The embedder's own provider (assistant/llm.hpp): the agent talks to it
  // instead of a built-in one, and base_url, model and api_key are unused.
  // Default: none.
  std::shared_ptr<LlmProvider> llm;
  std::string base_url;
  std::string model;
  std::string api_key;  // never logged
  // Tool-loop rounds before the agent stops asking the model. Default 8.
  int max_tool_steps = 8;
  // Rough token budget for history in the prompt (4 chars ~ 1 token).
  int history_token_budget = 4000;
  std::chrono::seconds llm_timeout{60};
  // Turns running at once in this instance, each on a thread of the
  // agent's pool (threads are made as needed, up to this many). Past it
  // Agent::Start refuses with ResourceExhausted, reason "agent_busy": a
  // turn holds a thread and an upstream request for its whole length, so
  // queueing would only hide an overload. Default 1024.
  int max_turns_in_flight = 1024;
  // Prepended to every prompt; memory and state are appended to it.
  std::string system_prompt =
      "You are a helpful assistant that manages the user's tasks.";
};

// Agent runs (assistant/runs.hpp).
struct RunOptions {
  // Finished runs stay replayable this long. Default: 3600 s.
  std::chrono::seconds retention{3600};
  // When the sink given to AgentRun::Attach (or Agent::Send) returns false
  // (the streaming client went away): true cancels the run, false lets it
  // finish and store its reply. A turn that stores nothing is cancelled
  // either way.
  // Default: false (continue).
  bool cancel_when_sink_gone = false;
  // How often pending events are written, all runs in one transaction.
  // Listeners in this process never wait for it; it bounds how late a
  // listener on another process sees events and what a killed process
  // loses. Every stream with news costs a row per flush, so shorter
  // intervals cost CPU per token under many streams. Default: 250 ms.
  std::chrono::milliseconds flush_interval{250};
  // How often a process executing runs looks for cancel requests stored by
  // other processes. Default: 100 ms.
  std::chrono::milliseconds cancel_poll{100};
  // How often Attach reads storage for a run of another process.
  // Default: 50 ms.
  std::chrono::milliseconds attach_poll{50};
  // Silence after which Attach sends its sink a keep-alive. Default: 15 s.
  std::chrono::milliseconds keep_alive{15000};
  // How often finished runs past `retention` are deleted. Default: 60 s.
  std::chrono::seconds prune_interval{60};
  // The longest a turn may run, all model calls and tools together. The
  // provider's read timeout only measures silence, so an upstream that
  // trickles keep-alives or text forever would otherwise hold its run (and
  // a server worker) forever. Past it the turn stops like a cancel but is
  // stored as failed with reason "turn_timeout". Default: 600 s.
  std::chrono::seconds max_duration{600};
  // How often a process records that its running runs are alive, and how
  // long a running run may go without that before a reader (Get, Attach,
  // Cancel on any process) decides its process died and fails it with an
  // `error` event (code run_abandoned). Defaults: 1 s and 15 s.
  std::chrono::milliseconds heartbeat_interval{1000};
  std::chrono::seconds abandoned_after{15};
};

struct Options {
  // sqlite://path, sqlite:///abs/path, sqlite::memory:, postgresql://...
  std::string database_url = "sqlite://assistant.db";
  StorageOptions storage;
  AuthOptions auth;
  AgentOptions agent;
  RunOptions runs;
  // Default: Clock::Default().
  std::shared_ptr<Clock> clock;
  // Default: an outbox mailer writing to `outbox_path`.
  std::shared_ptr<Mailer> mailer;
  // Default: empty = the state paths' outbox (assistant/settings.hpp).
  std::string outbox_path;
  // Where the secret, keys and outbox live when not named one by one.
  // Default: empty = beside the SQLite file (assistant/settings.hpp).
  std::string state_dir;
  // Refuse what is only fit for development: a missing or short secret,
  // cheap Argon2id costs (assistant/settings.hpp). Default: false.
  bool production = false;
  // How often the open instance moves deleted text out of the database
  // files (Storage::Checkpoint), on a thread of its own; the instance's
  // destruction runs a last one. 0 = never; no thread for an in-memory
  // database either. Default: 60 s.
  std::chrono::milliseconds checkpoint_interval{60000};
  // Where the core's log lines go (assistant/logger.hpp). Default: dropped;
  // the core never writes to stderr itself.
  std::shared_ptr<Logger> logger;
  // The app registry's file (assistant/apps.hpp); empty = no apps.
  // Default: empty.
  std::string apps_path;
  // Told of runs, model calls and tool calls (assistant/observer.hpp).
  // Default (null): NullObserver().
  std::shared_ptr<Observer> observer;
};

}  // namespace assistant

#endif  // ASSISTANT_OPTIONS_HPP_
