// embed: libassistant linked into a program, on a SQLite file, offline.
//
// Registers (or logs in) a user, talks to the built-in agent about tasks and
// prints the replies. Run: embed [sqlite-url]   (default sqlite://embed-example.db)
#include <cstdio>
#include <string>

#include "assistant/assistant.hpp"

int main(int argc, char** argv) {
  assistant::Options options;
  options.database_url = argc > 1 ? argv[1] : "sqlite://embed-example.db";
  options.outbox_path = "embed-outbox.jsonl";
  // A real program keeps this secret somewhere safe and stable: it signs
  // access tokens. The embedding program here only needs a placeholder.
  options.auth.jwt_secret = "embed-example-secret-please-change-0123456789";

  auto core = assistant::Assistant::Open(options);
  if (!core.ok()) {
    std::fprintf(stderr, "open: %s\n", core.status().ToString().c_str());
    return 1;
  }
  assistant::RequestContext ctx;
  ctx.ip = "127.0.0.1";

  const std::string email = "ann@example.com";
  const std::string password = "correct horse battery staple";
  auto login = (*core)->auth().Login(email, password, ctx);
  if (!login.ok()) {
    login = (*core)->auth().Register({email, password, "Ann"}, ctx);
  }
  if (!login.ok()) {
    std::fprintf(stderr, "login: %s\n", login.status().ToString().c_str());
    return 1;
  }
  std::printf("signed in as %s (%s)\n", login->user.email.c_str(), login->user.id.c_str());

  // The access token authenticates like any HTTP client's would.
  auto me = (*core)->auth().Authenticate(login->tokens.access_token);
  if (!me.ok()) {
    std::fprintf(stderr, "authenticate: %s\n", me.status().ToString().c_str());
    return 1;
  }

  std::string conversation;
  for (const char* line : {"hello", "add buy milk to my list", "remind me to call mom",
                           "mark buy milk as done", "what's on my list?"}) {
    assistant::AgentRequest request;
    request.message = line;
    if (!conversation.empty()) request.conversation_id = conversation;
    auto reply = (*core)->agent().Send(*me, request, ctx);
    if (!reply.ok()) {
      std::fprintf(stderr, "agent: %s\n", reply.status().ToString().c_str());
      return 1;
    }
    conversation = reply->conversation_id;
    std::printf("> %s\n%s\n", line, reply->message.content.c_str());
  }
  return 0;
}
