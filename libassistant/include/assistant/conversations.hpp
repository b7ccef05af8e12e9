// File: assistant/conversations.hpp
//
// Conversations and their messages, with full-text search over titles and
// message text, and fork at a message. Needs conversations:read /
// conversations:write (the agent writes with scope `agent`).
//
// Thread safety: every method is safe to call from many threads at once.
#ifndef ASSISTANT_CONVERSATIONS_HPP_
#define ASSISTANT_CONVERSATIONS_HPP_

#include <optional>
#include <string>

#include "assistant/status.hpp"
#include "assistant/types.hpp"

namespace assistant {

struct ConversationInput {
  std::string title;  // default "New conversation"
  std::optional<std::string> app_id;
};

struct ConversationPatch {
  std::optional<std::string> title;
};

struct ConversationListOptions {
  // When set, full-text search: words all in one title or message; `w*` is
  // a prefix. Results by relevance, then recency.
  std::string q;
  int limit = 50;      // clamped to 1..200
  std::string cursor;  // opaque
};

struct MessageListOptions {
  std::string before;  // message id; empty = newest page
  int limit = 50;      // clamped to 1..200
};

class ConversationService {
 public:
  virtual ~ConversationService() = default;
  virtual Result<Conversation> Create(const Principal& p,
                                      const ConversationInput& input) = 0;
  virtual Result<Conversation> Get(const Principal& p, const std::string& id) = 0;
  virtual Result<Conversation> Update(const Principal& p, const std::string& id,
                                      const ConversationPatch& patch) = 0;
  virtual Status Delete(const Principal& p, const std::string& id) = 0;
  virtual Result<Page<Conversation>> List(const Principal& p,
                                          const ConversationListOptions& options) = 0;
  // Oldest first within the page; has_more when older ones exist.
  virtual Result<MessagePage> Messages(const Principal& p,
                                       const std::string& conversation_id,
                                       const MessageListOptions& options) = 0;
  // Validates role and content, then appends.
  virtual Result<Message> AddMessage(const Principal& p, Message message) = 0;
  // A new conversation "<title> (fork)" with the messages up to and
  // including `message_id`.
  virtual Result<Conversation> Fork(const Principal& p,
                                    const std::string& conversation_id,
                                    const std::string& message_id) = 0;
};

}  // namespace assistant

#endif  // ASSISTANT_CONVERSATIONS_HPP_
