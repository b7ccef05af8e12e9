// The README's example as a program: built with -Wall -Wextra -Werror and
// run twice by the tests (tests/readme), which also check that README.md
// shows the lines between the markers exactly.
#include <iostream>

#include "assistant/assistant.hpp"

// [readme]
int main() {
  assistant::Options options;
  options.database_url = "sqlite://app.db";  // or "sqlite::memory:"
  options.auth.jwt_secret = "32+ random bytes from your secret store";
  auto core = assistant::Assistant::Open(options);
  if (!core.ok()) {
    std::cerr << core.status().ToString() << "\n";
    return 1;
  }
  assistant::Assistant& app = **core;

  // Sign Ann up, or in when an earlier run already did.
  assistant::RegisterInput ann_in;
  ann_in.email = "ann@example.com";
  ann_in.password = "correct horse battery";
  ann_in.name = "Ann";
  auto ann = app.auth().Register(ann_in, {});
  if (!ann.ok() && ann.status().reason() == "email_taken") {
    ann = app.auth().Login(ann_in.email, ann_in.password, {});
  }
  if (!ann.ok()) {
    std::cerr << ann.status().ToString() << "\n";
    return 1;
  }
  // The embedding program acts for Ann, trusted with every scope.
  auto me = app.PrincipalFor(ann->user.id);
  if (!me.ok()) {
    std::cerr << me.status().ToString() << "\n";
    return 1;
  }

  assistant::TaskInput milk;
  milk.title = "buy milk";
  if (auto task = app.tasks().Create(*me, milk); !task.ok()) {
    std::cerr << task.status().ToString() << "\n";
    return 1;
  }
  assistant::AgentRequest question;
  question.message = "what's on my list?";
  auto reply = app.agent().Send(*me, question, {});
  if (!reply.ok()) {
    std::cerr << reply.status().ToString() << "\n";
    return 1;
  }
  std::cout << reply->message.content << "\n";
  return 0;
}
// [/readme]
