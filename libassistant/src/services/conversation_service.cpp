// ConversationService over Storage: scopes, titles, messages, search and
// fork. Owner isolation is in the storage queries.
#include <string>
#include <vector>

#include "common/cursor.hpp"
#include "common/text.hpp"
#include "services/service_util.hpp"
#include "services/services.hpp"

namespace assistant {
namespace {

constexpr const char* kRead = "conversations:read";
constexpr const char* kWrite = "conversations:write";
constexpr const char* kAgent = "agent";
constexpr size_t kMaxSearchWords = 16;
constexpr size_t kMaxQueryChars = 500;

// Splits a search query into the words storage understands: runs of letters
// and digits (any non-ASCII code point counts as a letter), each keeping a
// `*` that directly follows it as a prefix marker. Everything else (quotes,
// operators, column filters) is a separator, so no query syntax of the
// full-text engine can be injected.
std::vector<std::string> SearchWords(const std::string& q) {
  std::vector<std::string> words;
  std::string cur;
  auto flush = [&](bool prefix) {
    if (!cur.empty() && words.size() < kMaxSearchWords) {
      words.push_back(prefix ? cur + "*" : cur);
    }
    cur.clear();
  };
  for (char ch : q) {
    const auto c = static_cast<unsigned char>(ch);
    const bool word = c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                      (c >= 'A' && c <= 'Z');
    if (word) {
      cur.push_back(ch);
    } else {
      flush(c == '*');
    }
  }
  flush(false);
  return words;
}

Result<std::string> CleanTitle(const std::string& title) {
  return text::CleanText(title, "title", 1, kConversationTitleMaxChars, false);
}

// The first `max_chars` code points of valid UTF-8.
std::string TruncateChars(const std::string& s, size_t max_chars) {
  size_t count = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (count == max_chars) return s.substr(0, i);
      ++count;
    }
  }
  return s;
}

class ConversationServiceImpl final : public ConversationService {
 public:
  ConversationServiceImpl(Storage& storage, Clock& clock)
      : storage_(storage), clock_(clock) {}

  Result<Conversation> Create(const Principal& p, const ConversationInput& input) override {
    ASSISTANT_RETURN_IF_ERROR(services::RequireScope(p, kWrite));
    Conversation c;
    if (input.title.empty()) {
      c.title = kDefaultConversationTitle;
    } else {
      ASSISTANT_ASSIGN_OR_RETURN(c.title, CleanTitle(input.title));
    }
    c.app_id = input.app_id ? input.app_id : p.app_id;
    if (c.app_id && !services::IsSafeName(*c.app_id)) {
      return InvalidArgumentError("app_id must be 1-128 characters of [A-Za-z0-9._:-]",
                                  "app_id");
    }
    c.id = NewId();
    c.user_id = p.user_id;
    c.created_at = c.updated_at = services::NowMillis(clock_);
    ASSISTANT_RETURN_IF_ERROR(storage_.CreateConversation(c));
    return c;
  }

  Result<Conversation> Get(const Principal& p, const std::string& id) override {
    ASSISTANT_RETURN_IF_ERROR(services::RequireScope(p, kRead));
    return storage_.GetConversation(p.user_id, id);
  }

  Result<Conversation> Update(const Principal& p, const std::string& id,
                              const ConversationPatch& patch) override {
    ASSISTANT_RETURN_IF_ERROR(services::RequireScope(p, kWrite));
    ASSISTANT_ASSIGN_OR_RETURN(Conversation c, storage_.GetConversation(p.user_id, id));
    if (patch.title) {
      ASSISTANT_ASSIGN_OR_RETURN(c.title, CleanTitle(*patch.title));
    }
    c.updated_at = services::NowMillis(clock_);
    ASSISTANT_RETURN_IF_ERROR(storage_.UpdateConversation(c));
    return c;
  }

  Status Delete(const Principal& p, const std::string& id) override {
    ASSISTANT_RETURN_IF_ERROR(services::RequireScope(p, kWrite));
    return storage_.DeleteConversation(p.user_id, id);
  }

  Result<Page<Conversation>> List(const Principal& p,
                                  const ConversationListOptions& options) override {
    ASSISTANT_RETURN_IF_ERROR(services::RequireScope(p, kRead));
    const int limit = cursor::ClampLimit(options.limit);
    Page<Conversation> page;
    if (!options.q.empty()) {
      if (!text::IsValidUtf8(options.q)) return MalformedError("invalid UTF-8 in q");
      if (text::CharCount(options.q) > kMaxQueryChars) {
        return InvalidArgumentError("q must be at most 500 characters", "q");
      }
      int offset = 0;
      if (!options.cursor.empty()) {
        ASSISTANT_ASSIGN_OR_RETURN(offset, cursor::DecodeOffset(options.cursor));
      }
      std::vector<std::string> words = SearchWords(options.q);
      if (words.empty()) return page;  // nothing searchable: nothing matches
      ASSISTANT_ASSIGN_OR_RETURN(
          std::vector<Conversation> rows,
          storage_.SearchConversations(p.user_id, words, limit + 1, offset));
      if (static_cast<int>(rows.size()) > limit) {
        rows.resize(limit);
        page.next_cursor = cursor::EncodeOffset(offset + limit);
      }
      page.items = std::move(rows);
      return page;
    }
    ConversationQuery q;
    q.limit = limit + 1;
    if (!options.cursor.empty()) {
      ASSISTANT_ASSIGN_OR_RETURN(q.after, cursor::Decode(options.cursor));
    }
    ASSISTANT_ASSIGN_OR_RETURN(std::vector<Conversation> rows,
                               storage_.ListConversations(p.user_id, q));
    if (static_cast<int>(rows.size()) > limit) {
      rows.resize(limit);
      page.next_cursor = cursor::Encode({rows.back().updated_at, rows.back().id});
    }
    page.items = std::move(rows);
    return page;
  }

  Result<MessagePage> Messages(const Principal& p, const std::string& conversation_id,
                               const MessageListOptions& options) override {
    ASSISTANT_RETURN_IF_ERROR(services::RequireScope(p, kRead));
    // An explicit check so an empty conversation of another user is NotFound
    // too, not an empty page.
    ASSISTANT_RETURN_IF_ERROR(storage_.GetConversation(p.user_id, conversation_id).status());
    return storage_.ListMessages(p.user_id, conversation_id, options.before,
                                 cursor::ClampLimit(options.limit));
  }

  // The agent appends the turns it runs, so `agent` may write messages too.
  Result<Message> AddMessage(const Principal& p, Message m) override {
    ASSISTANT_RETURN_IF_ERROR(services::RequireAnyScope(p, kWrite, kAgent));
    // Assistant turns may be tool calls only, tool results may be empty.
    const size_t min_chars =
        (m.role == MessageRole::kUser || m.role == MessageRole::kSystem) ? 1 : 0;
    ASSISTANT_ASSIGN_OR_RETURN(
        m.content, text::CleanText(m.content, "content", min_chars, kMessageMaxChars, true));
    if (m.tool_calls && !m.tool_calls->is_array() && !m.tool_calls->is_null()) {
      return InvalidArgumentError("tool_calls must be an array", "tool_calls");
    }
    if (m.tool_calls && m.tool_calls->is_null()) m.tool_calls.reset();
    if (m.tool_calls) {
      ASSISTANT_RETURN_IF_ERROR(
          services::SerializeBounded(*m.tool_calls, "tool_calls", kJsonDocumentMaxBytes)
              .status());
    }
    if (m.id.empty()) m.id = NewId();
    m.created_at = services::NowMillis(clock_);
    ASSISTANT_RETURN_IF_ERROR(storage_.AppendMessage(p.user_id, m));
    return m;
  }

  Result<Conversation> Fork(const Principal& p, const std::string& conversation_id,
                            const std::string& message_id) override {
    ASSISTANT_RETURN_IF_ERROR(services::RequireScope(p, kWrite));
    ASSISTANT_ASSIGN_OR_RETURN(Conversation source,
                               storage_.GetConversation(p.user_id, conversation_id));
    static constexpr std::string_view kSuffix = " (fork)";
    Conversation fork;
    fork.id = NewId();
    fork.user_id = p.user_id;
    fork.app_id = source.app_id;
    // Keep the fork's title within the title limit.
    fork.title = TruncateChars(source.title, kConversationTitleMaxChars - kSuffix.size()) +
                 std::string(kSuffix);
    fork.created_at = fork.updated_at = services::NowMillis(clock_);
    return storage_.ForkConversation(p.user_id, conversation_id, message_id, fork);
  }

 private:
  Storage& storage_;
  Clock& clock_;
};

}  // namespace

std::unique_ptr<ConversationService> NewConversationService(Storage& storage,
                                                            Clock& clock) {
  return std::make_unique<ConversationServiceImpl>(storage, clock);
}

}  // namespace assistant
