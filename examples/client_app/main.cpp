// An app on assistant-server through the client libraries: sign in (or up),
// stream a turn with the agent, read the task list, sign out.
//
//   client_app [BASE_URL]        (default http://127.0.0.1:8000)
//
// With the server of the README running, it adds a task by chat and shows it.
#include <iostream>

#include "assistant/client/agent_client.hpp"
#include "assistant/client/auth_client.hpp"
#include "assistant/client/tasks_client.hpp"

namespace client = assistant::client;

int main(int argc, char** argv) {
  client::ClientOptions options;
  if (argc > 1) options.base_url = argv[1];
  client::AuthClient auth(options);
  auth.AddListener([](client::AuthEvent e) {
    if (e == client::AuthEvent::kSessionEnded) std::cout << "session ended elsewhere\n";
  });

  auto user = auth.Login("app@example.com", "correct horse battery");
  if (!user.ok() && user.status().reason() == "invalid_credentials") {
    user = auth.Register("app@example.com", "correct horse battery", "App");
  }
  if (!user.ok()) {
    std::cerr << "cannot sign in: " << user.status().ToString() << "\n";
    return 1;
  }
  std::cout << "signed in as " << user->email << "\n";

  client::AgentClient agent(auth);
  auto reply = agent.Stream("add book the dentist to my list", [](const client::StreamEvent& e) {
    if (e.type == "message.delta") std::cout << e.data["content"].get<std::string>() << std::flush;
    if (e.type == "tool.call") std::cout << "[" << e.data["name"].get<std::string>() << "] ";
    return true;
  });
  std::cout << "\n";
  if (!reply.ok()) {
    std::cerr << "the turn failed: " << reply.status().ToString() << "\n";
    return 1;
  }

  client::TasksClient tasks(auth);
  auto list = tasks.List();
  if (!list.ok()) {
    std::cerr << "cannot list tasks: " << list.status().ToString() << "\n";
    return 1;
  }
  for (const auto& t : list->tasks) std::cout << "- " << t.title << "\n";
  return auth.Logout().ok() ? 0 : 1;
}
