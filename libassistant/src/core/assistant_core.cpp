// Assistant::Open: wires storage, clock, mailer, audit log, auth, the
// services, the LLM provider and the agent into one instance.
#include <memory>
#include <string>

#include "agent/agent_impl.hpp"
#include "agent/builtin_tools.hpp"
#include "assistant/core.hpp"
#include "assistant/providers.hpp"
#include "assistant/settings.hpp"
#include "auth/auth_service_impl.hpp"
#include "core/observed_storage.hpp"
#include "core/periodic_checkpoint.hpp"
#include "core/settings_internal.hpp"
#include "services/audit_log.hpp"
#include "services/services.hpp"
#include "storage/copy_target.hpp"

namespace assistant {
namespace {

Result<std::shared_ptr<LlmProvider>> MakeProvider(const AgentOptions& options) {
  if (options.llm) return options.llm;
  ASSISTANT_ASSIGN_OR_RETURN(std::unique_ptr<LlmProvider> provider, NewProvider(options));
  return std::shared_ptr<LlmProvider>(std::move(provider));
}

// Members are declared in dependency order, so they are destroyed in
// reverse: the agent and services before the audit log, clock and storage
// they refer to.
class AssistantImpl final : public Assistant {
 public:
  Result<Principal> PrincipalFor(const std::string& user_id) override {
    auto user = storage_->GetUserById(user_id);
    if (!user.ok()) {
      if (user.status().code() == StatusCode::kNotFound) {
        return NotFoundError("unknown user \"" + user_id + "\"", "unknown_user");
      }
      return user.status();
    }
    return Principal::ForUser(user_id);
  }
  AuthService& auth() override { return *auth_; }
  UserService& users() override { return *users_; }
  TaskService& tasks() override { return *tasks_; }
  ConversationService& conversations() override { return *conversations_; }
  AgentStateService& agent_state() override { return *agent_state_; }
  Agent& agent() override { return *agent_; }
  RunService& runs() override { return *runs_; }
  AppRegistry& apps() override { return *apps_; }
  Storage& storage() override { return *storage_; }
  Clock& clock() override { return *clock_; }
  const Options& options() const override { return options_; }

  Options options_;
  std::shared_ptr<Storage> storage_;
  std::shared_ptr<Clock> clock_;
  std::shared_ptr<Mailer> mailer_;
  std::shared_ptr<Logger> logger_;
  std::unique_ptr<AppRegistry> apps_;
  std::shared_ptr<Observer> observer_;
  std::unique_ptr<AuditLog> audit_;
  std::unique_ptr<AuthServiceInternal> auth_;
  std::unique_ptr<UserService> users_;
  std::unique_ptr<TaskService> tasks_;
  std::unique_ptr<ConversationService> conversations_;
  std::unique_ptr<AgentStateService> agent_state_;
  // Before the agent, which drives its runs; its destructor writes the
  // last pending events.
  std::unique_ptr<RunRegistry> runs_;
  std::unique_ptr<Agent> agent_;
  // Last: stopped (with a last checkpoint) before anything it uses goes.
  std::unique_ptr<PeriodicCheckpoint> checkpoint_;
};

// Open's body; `files_beside_database` as internal::ResolveOptions says.
Result<std::unique_ptr<Assistant>> OpenOn(const Options& given, std::shared_ptr<Storage> storage,
                                          bool files_beside_database);

}  // namespace

Result<std::unique_ptr<Assistant>> Assistant::Open(const Options& options) {
  // Checked before storage is opened, so bad settings leave no file behind.
  ASSISTANT_RETURN_IF_ERROR(CheckOptions(options));
  ASSISTANT_ASSIGN_OR_RETURN(std::unique_ptr<Storage> storage,
                             OpenStorage(options.database_url, options.storage));
  return OpenOn(options, std::shared_ptr<Storage>(std::move(storage)),
                /*files_beside_database=*/true);
}

Result<std::unique_ptr<Assistant>> Assistant::Open(const Options& options,
                                                   std::shared_ptr<Storage> storage) {
  return OpenOn(options, std::move(storage), /*files_beside_database=*/false);
}

namespace {

// A database that already has users meeting a secret or a signing key made
// just now is a restore that left the secret file behind (or a second server
// with a secret of its own): tokens issued before are refused from here on.
// `what` names what was made; the key itself is never logged.
void WarnOfLostTokens(const std::string& database_url, Logger& logger, const std::string& what) {
  auto users = storage::CountRowsAt(database_url, "users");
  if (!users.ok() || *users == 0) return;
  logger.Log(LogLevel::kWarning,
             "a new " + what + " was generated for a database that already has users: every "
             "token it signed before is now refused. If this database was restored or "
             "copied, stop and restore its secret file too (docs/operations.md)",
             {{"users", std::to_string(*users)}});
}

Result<std::unique_ptr<Assistant>> OpenOn(const Options& given, std::shared_ptr<Storage> storage,
                                          bool files_beside_database) {
  if (!storage) return InvalidArgumentError("storage is required", "storage");
  // Check the provider first: it needs nothing else and fails cheaply.
  ASSISTANT_ASSIGN_OR_RETURN(std::shared_ptr<LlmProvider> provider,
                             MakeProvider(given.agent));
  // The policy of assistant/settings.hpp: checks, the secret, file places.
  ASSISTANT_ASSIGN_OR_RETURN(ResolvedOptions resolved,
                             internal::ResolveOptions(given, files_beside_database));
  const Options& options = resolved.options;
  // A bad apps file fails the open, naming the entry and field.
  auto apps = std::make_unique<AppRegistry>(options.apps_path);
  ASSISTANT_RETURN_IF_ERROR(apps->Reload());
  auto a = std::make_unique<AssistantImpl>();
  a->options_ = options;
  a->apps_ = std::move(apps);
  a->observer_ = options.observer;
  // Storage writes are timed only for an embedder who listens.
  a->storage_ = a->observer_ ? NewObservedStorage(std::move(storage), a->observer_.get())
                             : std::move(storage);
  // Clock::Default() belongs to the library: hold it without owning it.
  a->clock_ = options.clock ? options.clock
                            : std::shared_ptr<Clock>(Clock::Default(), [](Clock*) {});
  a->mailer_ = options.mailer ? options.mailer
                              : std::shared_ptr<Mailer>(NewOutboxMailer(options.outbox_path));
  a->logger_ = options.logger ? options.logger : NewNullLogger();
  for (const std::string& note : resolved.notes) a->logger_->Log(LogLevel::kInfo, note, {});
  if (resolved.secret_created && files_beside_database) {
    WarnOfLostTokens(options.database_url, *a->logger_, "JWT secret");
  }
  a->audit_ = std::make_unique<AuditLog>(*a->storage_, *a->clock_, a->logger_.get());

  AuthDeps auth_deps;
  auth_deps.storage = a->storage_;
  auth_deps.clock = a->clock_.get();
  auth_deps.mailer = a->mailer_;
  auth_deps.audit = a->audit_.get();
  auth_deps.options = options.auth;
  // A new secret already warned: the keys sealed under the old one are lost
  // with it, so one line says it all.
  if (files_beside_database && !resolved.secret_created) {
    Logger* logger = a->logger_.get();
    auth_deps.on_new_signing_key = [url = options.database_url, logger](const std::string& purpose) {
      WarnOfLostTokens(url, *logger,
                       purpose == "identity" ? "identity key" : "EdDSA signing key");
    };
  }
  ASSISTANT_ASSIGN_OR_RETURN(a->auth_, NewAuthService(std::move(auth_deps)));

  AuthServiceInternal* auth = a->auth_.get();
  a->users_ = NewUserService(*a->storage_, *a->clock_,
                             [auth](const std::string& user_id) { auth->ForgetUser(user_id); });
  a->tasks_ = NewTaskService(*a->storage_, *a->clock_);
  a->conversations_ = NewConversationService(*a->storage_, *a->clock_);
  a->agent_state_ = NewAgentStateService(*a->storage_, *a->clock_);

  a->runs_ = std::make_unique<RunRegistry>(*a->storage_, *a->clock_, options.runs, *a->logger_);

  AgentDeps agent_deps;
  agent_deps.storage = a->storage_.get();
  agent_deps.clock = a->clock_.get();
  agent_deps.audit = a->audit_.get();
  agent_deps.runs = a->runs_.get();
  agent_deps.provider = std::move(provider);
  agent_deps.observer = a->observer_.get();
  agent_deps.options = options.agent;
  ASSISTANT_ASSIGN_OR_RETURN(a->agent_, NewAgent(std::move(agent_deps)));
  ASSISTANT_RETURN_IF_ERROR(RegisterBuiltinTools(a->agent_->tools(), *a->tasks_));
  // An in-memory database has no file for deleted text to linger in: no
  // thread for it. Storage the caller opened decides for itself what a
  // checkpoint does, so it gets one.
  const bool no_file = files_beside_database && ParseDatabaseUrl(options.database_url)->in_memory;
  a->checkpoint_ = std::make_unique<PeriodicCheckpoint>(
      *a->storage_, *a->logger_,
      no_file ? std::chrono::milliseconds(0) : options.checkpoint_interval);
  return std::unique_ptr<Assistant>(std::move(a));
}

}  // namespace

}  // namespace assistant
