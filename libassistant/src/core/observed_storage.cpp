#include "core/observed_storage.hpp"

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "assistant/storage_wrapper.hpp"

namespace assistant {

namespace {

const Status& StatusOf(const Status& s) { return s; }
template <typename T>
Status StatusOf(const Result<T>& r) {
  return r.status();
}

class ObservedStorage final : public StorageWrapper {
 public:
  ObservedStorage(std::shared_ptr<Storage> target, Observer* observer)
      : StorageWrapper(std::move(target)), observer_(observer) {}

  Status CreateUser(const UserRecord& u) override {
    return Timed("CreateUser", [&] { return target()->CreateUser(u); });
  }
  Status UpdateUser(const UserRecord& u) override {
    return Timed("UpdateUser", [&] { return target()->UpdateUser(u); });
  }
  Status DeleteUser(const std::string& id) override {
    return Timed("DeleteUser", [&] { return target()->DeleteUser(id); });
  }
  Status CreateSession(const Session& s, const RefreshToken& first,
                       const AuditEvent& audit) override {
    return Timed("CreateSession", [&] { return target()->CreateSession(s, first, audit); });
  }
  Status TouchSession(const std::string& id, Timestamp now) override {
    return Timed("TouchSession", [&] { return target()->TouchSession(id, now); });
  }
  Status RevokeSession(const std::string& user_id, const std::string& id,
                       Timestamp now) override {
    return Timed("RevokeSession", [&] { return target()->RevokeSession(user_id, id, now); });
  }
  Result<int> RevokeAllSessions(const std::string& user_id, Timestamp now) override {
    return Timed("RevokeAllSessions", [&] { return target()->RevokeAllSessions(user_id, now); });
  }
  Result<RefreshRotation> RotateRefreshToken(const std::string& hash,
                                             const RefreshToken& successor,
                                             Timestamp now) override {
    return Timed("RotateRefreshToken",
                 [&] { return target()->RotateRefreshToken(hash, successor, now); });
  }
  Status CreateApiKey(const ApiKey& key) override {
    return Timed("CreateApiKey", [&] { return target()->CreateApiKey(key); });
  }
  Status RevokeApiKey(const std::string& user_id, const std::string& id, Timestamp now) override {
    return Timed("RevokeApiKey", [&] { return target()->RevokeApiKey(user_id, id, now); });
  }
  Status TouchApiKey(const std::string& id, Timestamp now) override {
    return Timed("TouchApiKey", [&] { return target()->TouchApiKey(id, now); });
  }
  Status CreateOneTimeToken(const OneTimeToken& token) override {
    return Timed("CreateOneTimeToken", [&] { return target()->CreateOneTimeToken(token); });
  }
  Result<OneTimeToken> ConsumeOneTimeToken(const std::string& hash, TokenPurpose purpose,
                                           Timestamp now) override {
    return Timed("ConsumeOneTimeToken",
                 [&] { return target()->ConsumeOneTimeToken(hash, purpose, now); });
  }
  Status CreateTask(const Task& task) override {
    return Timed("CreateTask", [&] { return target()->CreateTask(task); });
  }
  Status UpdateTask(const Task& task) override {
    return Timed("UpdateTask", [&] { return target()->UpdateTask(task); });
  }
  Status DeleteTask(const std::string& user_id, const std::string& id) override {
    return Timed("DeleteTask", [&] { return target()->DeleteTask(user_id, id); });
  }
  Result<int> DeleteCompletedTasks(const std::string& user_id) override {
    return Timed("DeleteCompletedTasks", [&] { return target()->DeleteCompletedTasks(user_id); });
  }
  Status CreateConversation(const Conversation& c) override {
    return Timed("CreateConversation", [&] { return target()->CreateConversation(c); });
  }
  Status UpdateConversation(const Conversation& c) override {
    return Timed("UpdateConversation", [&] { return target()->UpdateConversation(c); });
  }
  Status DeleteConversation(const std::string& user_id, const std::string& id) override {
    return Timed("DeleteConversation", [&] { return target()->DeleteConversation(user_id, id); });
  }
  Status AppendMessage(const std::string& user_id, const Message& m) override {
    return Timed("AppendMessage", [&] { return target()->AppendMessage(user_id, m); });
  }
  Status UpdateMessage(const std::string& user_id, const Message& m) override {
    return Timed("UpdateMessage", [&] { return target()->UpdateMessage(user_id, m); });
  }
  Result<Conversation> ForkConversation(const std::string& user_id, const std::string& source_id,
                                        const std::string& upto_message_id,
                                        const Conversation& fork) override {
    return Timed("ForkConversation", [&] {
      return target()->ForkConversation(user_id, source_id, upto_message_id, fork);
    });
  }
  Result<AgentState> UpdateAgentState(
      const std::string& user_id, const std::string& app_id,
      const std::function<Result<Json>(const std::optional<Json>&)>& update,
      Timestamp now) override {
    return Timed("UpdateAgentState",
                 [&] { return target()->UpdateAgentState(user_id, app_id, update, now); });
  }
  Status AddMemory(const Memory& memory) override {
    return Timed("AddMemory", [&] { return target()->AddMemory(memory); });
  }
  Status DeleteMemory(const std::string& user_id, const std::string& id) override {
    return Timed("DeleteMemory", [&] { return target()->DeleteMemory(user_id, id); });
  }
  Status PutUserData(const UserDataEntry& entry) override {
    return Timed("PutUserData", [&] { return target()->PutUserData(entry); });
  }
  Status DeleteUserData(const std::string& user_id, const std::string& ns,
                        const std::string& key) override {
    return Timed("DeleteUserData", [&] { return target()->DeleteUserData(user_id, ns, key); });
  }
  Status AppendAudit(const AuditEvent& event) override {
    return Timed("AppendAudit", [&] { return target()->AppendAudit(event); });
  }
  Status StartRun(const RunStart& start) override {
    return Timed("StartRun", [&] { return target()->StartRun(start); });
  }
  Status AppendRunEvents(const std::vector<RunEventBatch>& batches) override {
    return Timed("AppendRunEvents", [&] { return target()->AppendRunEvents(batches); });
  }
  Status FinishRun(const RunFinish& finish) override {
    return Timed("FinishRun", [&] { return target()->FinishRun(finish); });
  }
  Result<Run> RequestRunCancel(const std::string& user_id, const std::string& run_id) override {
    return Timed("RequestRunCancel", [&] { return target()->RequestRunCancel(user_id, run_id); });
  }
  Status TouchRuns(const std::string& owner, Timestamp now) override {
    return Timed("TouchRuns", [&] { return target()->TouchRuns(owner, now); });
  }
  Result<bool> FailAbandonedRun(const std::string& user_id, const std::string& run_id,
                                Timestamp alive_since, Timestamp now,
                                const RunEvent& error_event) override {
    return Timed("FailAbandonedRun", [&] {
      return target()->FailAbandonedRun(user_id, run_id, alive_since, now, error_event);
    });
  }
  Result<int> DeleteRunsFinishedBefore(Timestamp cutoff) override {
    return Timed("DeleteRunsFinishedBefore",
                 [&] { return target()->DeleteRunsFinishedBefore(cutoff); });
  }

 private:
  template <typename Call>
  auto Timed(std::string_view operation, Call call) -> decltype(call()) {
    const auto began = std::chrono::steady_clock::now();
    auto out = call();
    StorageWriteEvent e;
    e.operation = operation;
    e.latency = std::chrono::steady_clock::now() - began;
    const Status status = StatusOf(out);
    if (!status.ok()) {
      e.error_reason = status.reason();
      e.busy = status.code() == StatusCode::kUnavailable;
    }
    observer_->StorageWrite(e);
    return out;
  }

  Observer* const observer_;
};

}  // namespace

std::shared_ptr<Storage> NewObservedStorage(std::shared_ptr<Storage> target, Observer* observer) {
  return std::make_shared<ObservedStorage>(std::move(target), observer);
}

}  // namespace assistant
