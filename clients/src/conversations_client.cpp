#include "assistant/client/conversations_client.hpp"

#include "http_call.hpp"
#include "json_read.hpp"

namespace assistant::client {
namespace {

std::string ConversationPath(const std::string& id) {
  return "/api/conversations/" + internal::Escape(id);
}

Result<Conversation> ReadEnvelope(const Json& answer) {
  return internal::ReadField(answer, "conversation", internal::ReadConversation);
}

}  // namespace

Result<ConversationPage> ConversationsClient::List(const std::string& q, int limit,
                                                   const std::string& cursor) {
  std::string path = "/api/conversations?limit=" + std::to_string(limit);
  if (!q.empty()) path += "&q=" + internal::Escape(q);
  if (!cursor.empty()) path += "&cursor=" + internal::Escape(cursor);
  ASSISTANT_ASSIGN_OR_RETURN(Json answer, auth_.Call("GET", path));
  ConversationPage page;
  ASSISTANT_ASSIGN_OR_RETURN(
      page.conversations, internal::ReadList(answer, "conversations", internal::ReadConversation));
  const Json next = answer.value("next_cursor", Json());
  if (next.is_string()) page.next_cursor = next.get<std::string>();
  return page;
}

Result<Conversation> ConversationsClient::Create(const std::string& title,
                                                 const std::optional<std::string>& app_id) {
  Json body = Json::object();
  if (!title.empty()) body["title"] = title;
  if (app_id) body["app_id"] = *app_id;
  ASSISTANT_ASSIGN_OR_RETURN(Json answer, auth_.Call("POST", "/api/conversations", body));
  return ReadEnvelope(answer);
}

Result<Conversation> ConversationsClient::Get(const std::string& id) {
  ASSISTANT_ASSIGN_OR_RETURN(Json answer, auth_.Call("GET", ConversationPath(id)));
  return ReadEnvelope(answer);
}

Result<Conversation> ConversationsClient::Rename(const std::string& id, const std::string& title) {
  ASSISTANT_ASSIGN_OR_RETURN(Json answer,
                             auth_.Call("PATCH", ConversationPath(id), {{"title", title}}));
  return ReadEnvelope(answer);
}

Status ConversationsClient::Delete(const std::string& id) {
  return auth_.Call("DELETE", ConversationPath(id)).status();
}

Result<HistoryPage> ConversationsClient::Messages(const std::string& id, const std::string& before,
                                                  int limit) {
  std::string path = ConversationPath(id) + "/messages?limit=" + std::to_string(limit);
  if (!before.empty()) path += "&before=" + internal::Escape(before);
  ASSISTANT_ASSIGN_OR_RETURN(Json answer, auth_.Call("GET", path));
  HistoryPage page;
  ASSISTANT_ASSIGN_OR_RETURN(page.messages,
                             internal::ReadList(answer, "messages", internal::ReadMessage));
  page.has_more = answer.value("has_more", false);
  return page;
}

Result<Conversation> ConversationsClient::Fork(const std::string& id,
                                               const std::string& message_id) {
  ASSISTANT_ASSIGN_OR_RETURN(Json answer, auth_.Call("POST", ConversationPath(id) + "/fork",
                                                     {{"message_id", message_id}}));
  return ReadEnvelope(answer);
}

}  // namespace assistant::client
