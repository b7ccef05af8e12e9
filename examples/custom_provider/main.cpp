// The embedder's own model, logger and tool, through the public API only:
// a provider of our own (here a scripted one standing in for an in-house
// model) asks for a tool the app registered; the agent validates the
// arguments, runs the tool, sends the result back, and the provider
// answers with text that streams.
//
//   custom_provider [DATABASE_URL]        (default sqlite::memory:)
#include <atomic>
#include <iostream>
#include <memory>
#include <string>

#include "assistant/assistant.hpp"

namespace {

// Asks for roll_die first; once the result is in the conversation, says
// what was rolled, a word at a time.
class ScriptedModel final : public assistant::LlmProvider {
 public:
  std::string name() const override { return "scripted"; }
  assistant::Result<assistant::ChatResponse> Chat(
      const assistant::ChatRequest& request, const assistant::DeltaSink& on_delta,
      const assistant::CancellationToken& cancel) override {
    assistant::ChatResponse out;
    const assistant::ChatMessage& last = request.messages.back();
    if (last.role != assistant::MessageRole::kTool) {
      out.tool_calls.push_back({"call_1", "roll_die", {{"sides", 6}}});
      out.finish_reason = "tool_calls";
      return out;
    }
    const auto result = assistant::Json::parse(last.content);
    const std::string words[] = {"You ", "rolled ", "a ",
                                 std::to_string(result["rolled"].get<int>()), "."};
    for (const std::string& word : words) {
      if (cancel.cancelled() || !on_delta(word)) return assistant::CancelledError("stopped");
      out.content += word;
    }
    out.finish_reason = "stop";
    out.usage = {12, 5};
    return out;
  }
};

// Counts the core's log lines and prints the errors.
class CountingLogger final : public assistant::Logger {
 public:
  void Log(assistant::LogLevel level, std::string_view message,
           const std::vector<assistant::LogField>&) override {
    ++lines;
    if (level == assistant::LogLevel::kError) std::cerr << "core: " << message << "\n";
  }
  std::atomic<int> lines{0};
};

}  // namespace

int main(int argc, char** argv) {
  assistant::Options options;
  options.database_url = argc > 1 ? argv[1] : "sqlite::memory:";
  options.auth.jwt_secret = "an example secret of thirty-two bytes!";
  options.agent.llm = std::make_shared<ScriptedModel>();
  auto logger = std::make_shared<CountingLogger>();
  options.logger = logger;
  auto core = assistant::Assistant::Open(options);
  if (!core.ok()) {
    std::cerr << core.status().ToString() << "\n";
    return 1;
  }
  assistant::Tool die;
  die.spec = {"roll_die",
              "Roll a die",
              {{"type", "object"},
               {"properties", {{"sides", {{"type", "integer"}, {"minimum", 2}}}}},
               {"required", {"sides"}}}};
  die.run = [](const assistant::ToolContext&,
               const assistant::Json& args) -> assistant::Result<assistant::Json> {
    return assistant::Json{{"rolled", args["sides"].get<int>() - 2}};
  };
  if (auto s = (*core)->agent().tools().Register(die); !s.ok()) {
    std::cerr << s.ToString() << "\n";
    return 1;
  }
  auto user = (*core)->auth().Register({"dice@example.com", "correct horse battery", "Dice"}, {});
  if (!user.ok() && user.status().reason() == "email_taken") {
    user = (*core)->auth().Login("dice@example.com", "correct horse battery", {});
  }
  if (!user.ok()) {
    std::cerr << user.status().ToString() << "\n";
    return 1;
  }
  const auto me = assistant::Principal::ForUser(user->user.id);
  assistant::AgentRequest request;
  request.message = "roll a die for me";
  auto reply = (*core)->agent().Send(me, request, {}, [](const assistant::AgentEvent& e) {
    std::cout << "event " << e.type << " " << e.data.dump() << "\n";
    return true;
  });
  if (!reply.ok()) {
    std::cerr << reply.status().ToString() << "\n";
    return 1;
  }
  std::cout << "reply: " << reply->message.content << "\n";
  std::cout << "provider: " << (*core)->options().agent.llm->name() << "\n";
  return 0;
}
