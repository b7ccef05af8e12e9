// File: assistant/storage_wrapper.hpp
//
// StorageWrapper forwards every Storage call to a target. Derive from it and
// override only the calls you care about: fault injection in tests, metrics,
// logging, caching.
//
// Thread safety: as safe as the target; the wrapper itself holds no state.
//
// Example:
//   class FailingWrites : public assistant::StorageWrapper {
//    public:
//     using StorageWrapper::StorageWrapper;
//     assistant::Status CreateTask(const assistant::Task&) override {
//       return assistant::UnavailableError("injected");
//     }
//   };
//   auto storage = std::make_shared<FailingWrites>(std::move(real_storage));
#ifndef ASSISTANT_STORAGE_WRAPPER_HPP_
#define ASSISTANT_STORAGE_WRAPPER_HPP_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "assistant/storage.hpp"

namespace assistant {

class StorageWrapper : public Storage {
 public:
  // REQUIRES: target is not null.
  explicit StorageWrapper(std::shared_ptr<Storage> target) : target_(std::move(target)) {}

  // The storage calls are forwarded to.
  Storage* target() const { return target_.get(); }

  Status Ping() override { return target_->Ping(); }
  std::string Backend() const override { return target_->Backend(); }
  Status CreateUser(const UserRecord& user) override { return target_->CreateUser(user); }
  Result<UserRecord> GetUserById(const std::string& id) override {
    return target_->GetUserById(id);
  }
  Result<UserRecord> GetUserByEmail(const std::string& email) override {
    return target_->GetUserByEmail(email);
  }
  Status UpdateUser(const UserRecord& user) override { return target_->UpdateUser(user); }
  Status DeleteUser(const std::string& id) override { return target_->DeleteUser(id); }
  Status CreateSession(const Session& session, const RefreshToken& first_token,
                       const AuditEvent& audit) override {
    return target_->CreateSession(session, first_token, audit);
  }
  Result<Session> GetSession(const std::string& session_id) override {
    return target_->GetSession(session_id);
  }
  Result<std::vector<Session>> ListSessions(const std::string& user_id, Timestamp now) override {
    return target_->ListSessions(user_id, now);
  }
  Status TouchSession(const std::string& session_id, Timestamp now) override {
    return target_->TouchSession(session_id, now);
  }
  Status RevokeSession(const std::string& user_id, const std::string& session_id,
                       Timestamp now) override {
    return target_->RevokeSession(user_id, session_id, now);
  }
  Result<int> RevokeAllSessions(const std::string& user_id, Timestamp now) override {
    return target_->RevokeAllSessions(user_id, now);
  }
  Result<RefreshRotation> RotateRefreshToken(const std::string& token_hash,
                                             const RefreshToken& successor,
                                             Timestamp now) override {
    return target_->RotateRefreshToken(token_hash, successor, now);
  }
  Status CreateApiKey(const ApiKey& key) override { return target_->CreateApiKey(key); }
  Result<ApiKey> GetApiKeyByHash(const std::string& key_hash) override {
    return target_->GetApiKeyByHash(key_hash);
  }
  Result<std::vector<ApiKey>> ListApiKeys(const std::string& user_id) override {
    return target_->ListApiKeys(user_id);
  }
  Status RevokeApiKey(const std::string& user_id, const std::string& id, Timestamp now) override {
    return target_->RevokeApiKey(user_id, id, now);
  }
  Status TouchApiKey(const std::string& id, Timestamp now) override {
    return target_->TouchApiKey(id, now);
  }
  Status CreateOneTimeToken(const OneTimeToken& token) override {
    return target_->CreateOneTimeToken(token);
  }
  Result<OneTimeToken> ConsumeOneTimeToken(const std::string& token_hash,
                                           TokenPurpose purpose, Timestamp now) override {
    return target_->ConsumeOneTimeToken(token_hash, purpose, now);
  }
  Status CreateTask(const Task& task) override { return target_->CreateTask(task); }
  Result<Task> GetTask(const std::string& user_id, const std::string& id) override {
    return target_->GetTask(user_id, id);
  }
  Status UpdateTask(const Task& task) override { return target_->UpdateTask(task); }
  Status DeleteTask(const std::string& user_id, const std::string& id) override {
    return target_->DeleteTask(user_id, id);
  }
  Result<std::vector<Task>> ListTasks(const std::string& user_id, const TaskQuery& query) override {
    return target_->ListTasks(user_id, query);
  }
  void ListTasksAsync(const std::string& user_id, const TaskQuery& query, EventLoop& loop,
                      TaskListDone done) override {
    target_->ListTasksAsync(user_id, query, loop, std::move(done));
  }
  bool ListTasksAsyncFitsLoop() const override { return target_->ListTasksAsyncFitsLoop(); }
  void ForgetLoop(EventLoop& loop) override { target_->ForgetLoop(loop); }
  Result<int> DeleteCompletedTasks(const std::string& user_id) override {
    return target_->DeleteCompletedTasks(user_id);
  }
  Status CreateConversation(const Conversation& conversation) override {
    return target_->CreateConversation(conversation);
  }
  Result<Conversation> GetConversation(const std::string& user_id, const std::string& id) override {
    return target_->GetConversation(user_id, id);
  }
  Status UpdateConversation(const Conversation& conversation) override {
    return target_->UpdateConversation(conversation);
  }
  Status DeleteConversation(const std::string& user_id, const std::string& id) override {
    return target_->DeleteConversation(user_id, id);
  }
  Result<std::vector<Conversation>> ListConversations(const std::string& user_id,
                                                      const ConversationQuery& query) override {
    return target_->ListConversations(user_id, query);
  }
  Result<std::vector<Conversation>> SearchConversations(const std::string& user_id,
                                                        const std::vector<std::string>& words,
                                                        int limit, int offset) override {
    return target_->SearchConversations(user_id, words, limit, offset);
  }
  Status AppendMessage(const std::string& user_id, const Message& message) override {
    return target_->AppendMessage(user_id, message);
  }
  Status UpdateMessage(const std::string& user_id, const Message& message) override {
    return target_->UpdateMessage(user_id, message);
  }
  Result<Message> GetMessage(const std::string& user_id, const std::string& conversation_id,
                             const std::string& message_id) override {
    return target_->GetMessage(user_id, conversation_id, message_id);
  }
  Result<MessagePage> ListMessages(const std::string& user_id, const std::string& conversation_id,
                                   const std::string& before_id, int limit) override {
    return target_->ListMessages(user_id, conversation_id, before_id, limit);
  }
  Result<Conversation> ForkConversation(const std::string& user_id, const std::string& source_id,
                                        const std::string& upto_message_id,
                                        const Conversation& fork) override {
    return target_->ForkConversation(user_id, source_id, upto_message_id, fork);
  }
  Result<AgentState> GetAgentState(const std::string& user_id, const std::string& app_id) override {
    return target_->GetAgentState(user_id, app_id);
  }
  Result<AgentState> UpdateAgentState(
      const std::string& user_id, const std::string& app_id,
      const std::function<Result<Json>(const std::optional<Json>&)>& update,
      Timestamp now) override {
    return target_->UpdateAgentState(user_id, app_id, update, now);
  }
  Status AddMemory(const Memory& memory) override { return target_->AddMemory(memory); }
  Result<std::vector<Memory>> ListMemories(const std::string& user_id, int limit) override {
    return target_->ListMemories(user_id, limit);
  }
  Status DeleteMemory(const std::string& user_id, const std::string& id) override {
    return target_->DeleteMemory(user_id, id);
  }
  Status PutUserData(const UserDataEntry& entry) override { return target_->PutUserData(entry); }
  Result<UserDataEntry> GetUserData(const std::string& user_id, const std::string& ns,
                                    const std::string& key) override {
    return target_->GetUserData(user_id, ns, key);
  }
  Result<std::vector<UserDataEntry>> ListUserData(const std::string& user_id,
                                                  const std::string& ns) override {
    return target_->ListUserData(user_id, ns);
  }
  Status DeleteUserData(const std::string& user_id, const std::string& ns,
                        const std::string& key) override {
    return target_->DeleteUserData(user_id, ns, key);
  }
  Status AppendAudit(const AuditEvent& event) override { return target_->AppendAudit(event); }
  Result<std::vector<AuditEvent>> ListAudit(const std::string& user_id, int limit,
                                            const std::optional<PagePosition>& after) override {
    return target_->ListAudit(user_id, limit, after);
  }
  Status StartRun(const RunStart& start) override { return target_->StartRun(start); }
  Result<Run> GetRun(const std::string& user_id, const std::string& id) override {
    return target_->GetRun(user_id, id);
  }
  Status AppendRunEvents(const std::vector<RunEventBatch>& batches) override {
    return target_->AppendRunEvents(batches);
  }
  Result<std::vector<RunEvent>> ListRunEvents(const std::string& user_id,
                                              const std::string& run_id, int64_t after_id,
                                              int limit) override {
    return target_->ListRunEvents(user_id, run_id, after_id, limit);
  }
  Status FinishRun(const RunFinish& finish) override { return target_->FinishRun(finish); }
  Result<Run> RequestRunCancel(const std::string& user_id, const std::string& run_id) override {
    return target_->RequestRunCancel(user_id, run_id);
  }
  Result<std::vector<std::string>> ListCancelRequestedRuns(const std::string& owner) override {
    return target_->ListCancelRequestedRuns(owner);
  }
  Status TouchRuns(const std::string& owner, Timestamp now) override {
    return target_->TouchRuns(owner, now);
  }
  Result<bool> FailAbandonedRun(const std::string& user_id, const std::string& run_id,
                                Timestamp alive_since, Timestamp now,
                                const RunEvent& error_event) override {
    return target_->FailAbandonedRun(user_id, run_id, alive_since, now, error_event);
  }
  Result<int> DeleteRunsFinishedBefore(Timestamp cutoff) override {
    return target_->DeleteRunsFinishedBefore(cutoff);
  }
  Status AddSigningKey(const SigningKey& key) override { return target_->AddSigningKey(key); }
  Result<std::vector<SigningKey>> ListSigningKeys(KeyPurpose purpose) override {
    return target_->ListSigningKeys(purpose);
  }
  Status DeleteSigningKey(KeyPurpose purpose, const std::string& kid) override {
    return target_->DeleteSigningKey(purpose, kid);
  }
  Result<int> DeleteSigningKeysRetiredBefore(KeyPurpose purpose,
                                             Timestamp cutoff) override {
    return target_->DeleteSigningKeysRetiredBefore(purpose, cutoff);
  }
  Result<RateWindow> HitRateLimit(const std::string& key, int limit,
                                  std::chrono::milliseconds window, Timestamp now) override {
    return target_->HitRateLimit(key, limit, window, now);
  }
  Result<int> DeleteRateLimitsBefore(Timestamp cutoff) override {
    return target_->DeleteRateLimitsBefore(cutoff);
  }
  Status Checkpoint() override { return target_->Checkpoint(); }
  Status InTransaction(const std::function<Status()>& body) override {
    return target_->InTransaction(body);
  }

 private:
  const std::shared_ptr<Storage> target_;
};

}  // namespace assistant

#endif  // ASSISTANT_STORAGE_WRAPPER_HPP_
