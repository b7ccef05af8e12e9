// File: assistant/client/conversations_client.hpp
//
// ConversationsClient: the signed-in user's conversations over HTTP:
// list and full-text search, rename, delete, messages, fork
// (docs/clients.md). Credentials come from an AuthClient. Thread-safe.
#ifndef ASSISTANT_CLIENT_CONVERSATIONS_CLIENT_HPP_
#define ASSISTANT_CLIENT_CONVERSATIONS_CLIENT_HPP_

#include <optional>
#include <string>
#include <vector>

#include "assistant/client/agent_client.hpp"
#include "assistant/client/auth_client.hpp"
#include "assistant/status.hpp"
#include "assistant/types.hpp"

namespace assistant::client {

struct ConversationPage {
  std::vector<Conversation> conversations;
  std::string next_cursor;  // empty on the last page
};

class ConversationsClient {
 public:
  // `auth` must outlive the client.
  explicit ConversationsClient(AuthClient& auth) : auth_(auth) {}

  // With `q`, a full-text search: every word must match, word* is a prefix.
  Result<ConversationPage> List(const std::string& q = "", int limit = 50,
                                const std::string& cursor = "");
  Result<Conversation> Create(const std::string& title = "",
                              const std::optional<std::string>& app_id = std::nullopt);
  Result<Conversation> Get(const std::string& id);
  Result<Conversation> Rename(const std::string& id, const std::string& title);
  Status Delete(const std::string& id);
  // Without `before` (a message id), the newest page; oldest first within it.
  Result<HistoryPage> Messages(const std::string& id, const std::string& before = "",
                               int limit = 50);
  // A new conversation holding the messages up to and including message_id.
  Result<Conversation> Fork(const std::string& id, const std::string& message_id);

 private:
  AuthClient& auth_;
};

}  // namespace assistant::client

#endif  // ASSISTANT_CLIENT_CONVERSATIONS_CLIENT_HPP_
