// File: assistant/client/agent_client.hpp
//
// AgentClient: the agent over HTTP, as the JavaScript @agent package gives
// it to web apps: send a message and get the whole reply, or stream its
// events (message.start, message.delta, tool.call, tool.result,
// message.done, error) as they happen; history; runs (status, re-attach,
// cancel); the agent's state document and memory. Credentials come from an
// AuthClient. docs/clients.md.
//
// A stream whose connection is lost re-attaches to its run with
// Last-Event-ID by itself (up to StreamOptions::max_reattach times) and
// delivers every event exactly once, in order.
//
// Thread safety: every method is safe to call from many threads at once.
#ifndef ASSISTANT_CLIENT_AGENT_CLIENT_HPP_
#define ASSISTANT_CLIENT_AGENT_CLIENT_HPP_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "assistant/client/auth_client.hpp"
#include "assistant/runs.hpp"
#include "assistant/status.hpp"
#include "assistant/types.hpp"

namespace assistant::client {

struct StreamEvent {
  int64_t id = 0;    // the run's event number: 1, 2, 3, ...
  std::string type;  // message.start, message.delta, ...
  Json data;
};

// Return false to stop: the run is cancelled on the server.
using StreamCallback = std::function<bool(const StreamEvent&)>;

struct MessageOptions {
  std::optional<std::string> conversation_id;  // a new conversation when unset
  std::optional<std::string> app_id;
};

struct TokenUsage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t total_tokens = 0;
};

struct AgentReply {
  std::string conversation_id;
  std::string run_id;
  Message message;  // the assistant's reply (status completed, cancelled or failed)
  TokenUsage usage;
};

struct RunInfo {
  std::string id;
  std::string conversation_id;
  std::string message_id;
  RunStatus status = RunStatus::kRunning;
  Timestamp created_at{};
  std::optional<Timestamp> finished_at;
};

struct HistoryPage {
  std::vector<Message> messages;  // oldest first
  bool has_more = false;
};

struct StreamOptions {
  // Re-attachments after lost connections before giving up. Default 5.
  int max_reattach = 5;
};

class AgentClient {
 public:
  // `auth` must outlive the client.
  explicit AgentClient(AuthClient& auth) : auth_(auth) {}

  Result<AgentReply> Send(const std::string& message, const MessageOptions& options = {});
  // Streams the turn's events to `on_event`, then returns the reply from
  // message.done. A turn that ends with an `error` event returns that
  // error; one stopped by `on_event` returns the run's reply as cancelled.
  Result<AgentReply> Stream(const std::string& message, const StreamCallback& on_event,
                            const MessageOptions& options = {}, const StreamOptions& stream = {});
  // Delivers a run's events after `last_event_id`, then follows it live to
  // its end (re-attaching as Stream does).
  Status Attach(const std::string& run_id, int64_t last_event_id, const StreamCallback& on_event,
                const StreamOptions& stream = {});
  Result<RunInfo> Run(const std::string& run_id);
  Result<RunInfo> Cancel(const std::string& run_id);
  Result<HistoryPage> History(const std::optional<std::string>& conversation_id = std::nullopt,
                              int limit = 50);

  Result<AgentState> State(const std::string& app_id = "");
  Result<AgentState> PutState(const Json& state, const std::string& app_id = "");
  // A JSON merge patch (RFC 7386).
  Result<AgentState> PatchState(const Json& patch, const std::string& app_id = "");

  Result<std::vector<Memory>> Memories();
  Result<Memory> AddMemory(const std::string& content);
  Status DeleteMemory(const std::string& id);

 private:
  struct Progress;
  Status Follow(Progress& p, const StreamCallback& on_event, const StreamOptions& stream);

  AuthClient& auth_;
};

}  // namespace assistant::client

#endif  // ASSISTANT_CLIENT_AGENT_CLIENT_HPP_
