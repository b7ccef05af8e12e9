// File: assistant/core.hpp
//
// One embedded libassistant instance: storage, clock, mailer, key rings and
// every service, opened from Options. This is the object an app links
// against; the reference servers and the C ABI are thin adapters over it.
//
// Thread safety: an Assistant and every service it hands out are safe for
// concurrent use from many threads. The services live as long as the
// Assistant; do not use them after it is destroyed.
//
// Example:
//   assistant::Options options;
//   options.database_url = "sqlite://assistant.db";
//   auto core = assistant::Assistant::Open(options);
//   if (!core.ok()) { std::cerr << core.status().ToString(); return 1; }
//   auto reg = (*core)->auth().Register({"ann@example.com", "pw-12345678", "Ann"}, {});
//   auto me = assistant::Principal::ForUser(reg->user.id);
//   (*core)->tasks().Create(me, {"buy milk"});
//   auto reply = (*core)->agent().Send(me, {"what's on my list?"}, {});
#ifndef ASSISTANT_CORE_HPP_
#define ASSISTANT_CORE_HPP_

#include <memory>

#include "assistant/agent.hpp"
#include "assistant/agent_state.hpp"
#include "assistant/apps.hpp"
#include "assistant/auth.hpp"
#include "assistant/conversations.hpp"
#include "assistant/options.hpp"
#include "assistant/runs.hpp"
#include "assistant/status.hpp"
#include "assistant/storage.hpp"
#include "assistant/tasks.hpp"
#include "assistant/users.hpp"

namespace assistant {

class Assistant {
 public:
  // Checks the options and fills what they leave open (assistant/settings.hpp:
  // production refusals, the development secret, where keys and the outbox
  // live), opens storage (applying migrations), loads or creates keys, builds
  // the services and starts the periodic checkpoint
  // (Options::checkpoint_interval). InvalidArgument for bad options,
  // FailedPrecondition ("weak_secret") for what production refuses, storage
  // errors as OpenStorage reports them. Nothing is written before the
  // options pass their checks. Destroying the instance stops the checkpoint
  // thread and runs a last checkpoint.
  static Result<std::unique_ptr<Assistant>> Open(const Options& options);
  // Builds on storage the caller opened (or implemented). The database URL
  // then places no file: only Options::state_dir does, and without it the
  // secret and keys are kept in memory.
  static Result<std::unique_ptr<Assistant>> Open(const Options& options,
                                                 std::shared_ptr<Storage> storage);
  virtual ~Assistant() = default;

  // A trusted principal for an existing user (the embedding program acting
  // for it, with every scope): Principal::ForUser after checking that the
  // user exists. NotFound (reason "unknown_user") otherwise, so a mistyped
  // id fails here rather than deep in a later write.
  virtual Result<Principal> PrincipalFor(const std::string& user_id) = 0;

  virtual AuthService& auth() = 0;
  virtual UserService& users() = 0;
  virtual TaskService& tasks() = 0;
  virtual ConversationService& conversations() = 0;
  virtual AgentStateService& agent_state() = 0;
  virtual Agent& agent() = 0;
  // Agent turns in progress and recently finished: status, re-attach, cancel.
  virtual RunService& runs() = 0;
  // The apps sharing this backend (Options::apps_path); Reload() re-reads it.
  virtual AppRegistry& apps() = 0;
  virtual Storage& storage() = 0;
  virtual Clock& clock() = 0;
  virtual const Options& options() const = 0;
};

}  // namespace assistant

#endif  // ASSISTANT_CORE_HPP_
