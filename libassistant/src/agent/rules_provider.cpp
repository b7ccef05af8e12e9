// The built-in offline provider. It reads the last user message, and:
//   - when no tool result follows it, detects the intent with a table of
//     phrasings and asks for the matching tool (or answers greeting/help/
//     unknown input with text);
//   - when tool results follow it, phrases the answer from them.
// Deterministic: the same conversation always gets the same reply.
#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <regex>
#include <string>
#include <vector>

#include "assistant/llm.hpp"

namespace assistant {
namespace {

constexpr const char* kHelpText =
    "I can keep your task list. Try: \"add buy milk\", \"what's on my list?\", "
    "\"mark buy milk as done\", \"rename buy milk to buy oat milk\", "
    "\"delete buy milk\" or \"clear completed\".";
constexpr const char* kGreetingText =
    "Hello! I can help you with your tasks. Try \"add buy milk\" or "
    "\"what's on my list?\".";
constexpr const char* kUnknownText =
    "Sorry, I didn't understand that. I can add, list, complete, reopen, rename "
    "and delete tasks: try \"add buy milk\" or \"what's on my list?\".";

struct Intent {
  std::string tool;  // empty: answer with `text`
  Json arguments = Json::object();
  std::string text;
};

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Typographic apostrophes and quotes become ASCII ones so "what’s" matches.
std::string AsciiPunctuation(const std::string& s) {
  static const std::pair<std::string, std::string> kMap[] = {
      {"\xE2\x80\x99", "'"},  {"\xE2\x80\x98", "'"}, {"\xE2\x80\x9C", "\""},
      {"\xE2\x80\x9D", "\""}, {"\xC2\xAB", "\""},    {"\xC2\xBB", "\""}};
  std::string out = s;
  for (const auto& [from, to] : kMap) {
    size_t pos = 0;
    while ((pos = out.find(from, pos)) != std::string::npos) {
      out.replace(pos, from.size(), to);
      pos += to.size();
    }
  }
  return out;
}

std::string CollapseSpaces(const std::string& s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = true;
      continue;
    }
    if (space && !out.empty()) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

bool IsTrailingPunct(char c) {
  return c == '.' || c == '!' || c == '?' || c == ',' || c == ';' || c == ' ';
}

// Removes what surrounds the request but is not part of it: politeness,
// trailing punctuation, a leading "ok"/"so". Case is kept (titles keep it).
std::string Normalize(const std::string& in) {
  std::string s = CollapseSpaces(AsciiPunctuation(in));
  while (!s.empty() && IsTrailingPunct(s.back())) s.pop_back();
  static const std::regex kLead(
      R"(^((ok(ay)?|so|um+|well|and|also|now|then|alright)[, ]+)*((please|pls|kindly|can you|could you|would you|will you|can u)( please)? )?)",
      std::regex::icase);
  static const std::regex kTrail(R"(([ ,]+(please|pls|for me|thanks|thank you|now|thx))+$)",
                                 std::regex::icase);
  std::smatch m;
  if (std::regex_search(s, m, kLead) && m.position(0) == 0) s = s.substr(m.length(0));
  s = std::regex_replace(s, kTrail, "");
  while (!s.empty() && IsTrailingPunct(s.back())) s.pop_back();
  return s;
}

// A task name as the user typed it, without quotes and filler words.
std::string CleanName(std::string s) {
  auto trim = [&] {
    while (!s.empty() && (s.front() == ' ' || s.front() == '"' || s.front() == '\'')) {
      s.erase(s.begin());
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '"' || s.back() == '\'' ||
                          IsTrailingPunct(s.back()))) {
      s.pop_back();
    }
  };
  trim();
  static const std::regex kLead(R"(^(the )?(task|todo|to-do|item)( called| named)?:? )",
                                std::regex::icase);
  static const std::regex kTrail(R"( (task|todo|to-do|item)$)", std::regex::icase);
  s = std::regex_replace(s, kLead, "");
  static const std::regex kTheTask(R"(^the .+ (task|item)$)", std::regex::icase);
  if (std::regex_search(s, kTheTask)) {
    s = s.substr(4);
    s = std::regex_replace(s, kTrail, "");
  }
  trim();
  return s;
}

constexpr const char* kTooLongText =
    "That message is too long for me to read as a command. Try something short, "
    "like \"add buy milk\".";
constexpr size_t kMaxCommandBytes = 2000;

constexpr const char* kListWords =
    R"((?:(?:my |the |our )?(?:to-?do |task |shopping )?(?:list|tasks|todos|to-dos|to do list|task list)))";

// Patterns compile once; "{L}" in a pattern stands for the ways to say
// "my list". A compiled std::regex is safe to use from many threads.
// Each thread remembers the patterns it used (keyed by the literal's
// address), so a turn's dozens of matches take no lock.
const std::regex& Compiled(const char* pattern) {
  thread_local std::unordered_map<const char*, const std::regex*> seen;
  if (auto it = seen.find(pattern); it != seen.end()) return *it->second;
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<std::regex>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = cache[pattern];
  if (!slot) {
    std::string p = pattern;
    for (size_t pos; (pos = p.find("{L}")) != std::string::npos;) p.replace(pos, 3, kListWords);
    slot = std::make_unique<std::regex>(p);
  }
  seen.emplace(pattern, slot.get());
  return *slot;
}

Intent Tool(const std::string& name, Json args = Json::object()) {
  return Intent{name, std::move(args), ""};
}
Intent Text(const std::string& text) { return Intent{"", Json::object(), text}; }

std::string StatusFrom(const std::string& lower) {
  static const std::regex kCompleted(R"(\b(completed|complete|done|finished|checked off)\b)");
  static const std::regex kPending(
      R"(\b(pending|open|incomplete|remaining|outstanding|left|unfinished|not done)\b)");
  static const std::regex kAll(R"(\ball\b)");
  static const std::regex kEverything(R"(have to do|need to do|got to do)");
  // "what do I have to do" asks for everything.
  if (std::regex_search(lower, kCompleted)) return "completed";
  if (std::regex_search(lower, kPending) &&
      !std::regex_search(lower, kEverything) &&
      !std::regex_search(lower, kAll)) {
    return "pending";
  }
  return "all";
}

// The intent table. Patterns run on the lower-cased text; captures are cut
// from the original so titles keep their case (ASCII lower-casing keeps
// byte offsets). Order matters: specific phrasings come before general ones.
Intent Detect(const std::string& raw) {
  // std::regex backtracks recursively: a very long input could exhaust the
  // stack. No command is that long (titles stop at 500 characters).
  if (raw.size() > kMaxCommandBytes) return Text(kTooLongText);
  const std::string s = Normalize(raw);
  const std::string l = Lower(s);
  std::smatch m;
  auto match = [&](const char* pattern) { return std::regex_match(l, m, Compiled(pattern)); };
  auto cap = [&](int i) { return CleanName(s.substr(m.position(i), m.length(i))); };

  if (l.empty()) return Text(kHelpText);

  // Greeting and help.
  if (match(R"((hi|hello|hey|hiya|howdy|yo|greetings|good (morning|afternoon|evening|day))( there)?( assistant| bot)?(,? how are you( doing)?( today)?)?)")) {
    return Text(kGreetingText);
  }
  if (match(R"((help|help me|i need help|\?|commands|what can (you|i) do|what do you do|what are you|how does (this|it) work|what can you help (me )?with|how do i use (this|you))( here)?)")) {
    return Text(kHelpText);
  }

  // Clear completed, before delete ("remove all done tasks").
  if (match(R"((clear|remove|delete|purge|clean up|get rid of)( all)?( of)?( the| my)? (completed|done|finished|checked off|checked)( tasks| todos| items| ones)?( from {L})?)") ||
      match(R"((clear|clean up) (my |the )?(list|tasks) of (completed|done|finished)( tasks| items)?)")) {
    return Tool("clear_completed");
  }

  // Listing.
  if (match(R"((what'?s|what is|whats) (on|in) {L}( today)?)") ||
      match(R"(what (do|should|must) i (have|need|got)? ?(to )?do( today| next| now)?)") ||
      match(R"(what (are|r) (my|the) (pending |open |completed |remaining |outstanding )?(tasks|todos|to-dos))") ||
      match(R"(what'?s (left|pending|remaining|next)( to do)?( on {L})?)") ||
      match(R"(what (have i|did i) (done|completed|finished))") ||
      match(R"((list|show|display|see|view|get|read|check|give)( me)?( all)?( of)?( my| the)? ?((all|pending|open|incomplete|remaining|outstanding|unfinished|completed|done|finished) )?(tasks|todos|to-dos|list|items|to-do list|todo list|to do list|task list)( list)?)") ||
      match(R"(((all|my|pending|open|incomplete|remaining|outstanding|unfinished|completed|done|finished) )?(tasks|todos|to-dos|to-do list|todo list|task list))") ||
      match(R"((do i have|are there) (any )?((pending|open|completed|done|unfinished) )?(tasks|todos|things to do))")) {
    return Tool("list_tasks", {{"status", StatusFrom(l)}});
  }

  // Uncomplete, before complete ("mark X as not done").
  if (match(R"(mark (.+?) as (not done|undone|not complete|not completed|incomplete|not finished|unfinished|pending|open|to ?do))") ||
      match(R"(mark (.+?) (not done|undone|incomplete|unfinished))")) {
    return Tool("uncomplete_task", {{"task", cap(1)}});
  }
  if (match(R"((uncomplete|un-complete|reopen|re-open|unfinish|uncheck|untick|undo|restore) (.+))")) {
    return Tool("uncomplete_task", {{"task", cap(2)}});
  }
  if (match(R"((.+?) (is|isn't|is not) (not done|not finished|undone|not complete) ?(yet|after all)?)")) {
    return Tool("uncomplete_task", {{"task", cap(1)}});
  }

  // Complete.
  if (match(R"(mark (.+?) as (done|complete|completed|finished))") ||
      match(R"(mark (.+?) (done|complete|completed|finished))") ||
      match(R"((?:check|tick|cross) (.+?) off( {L})?)")) {
    return Tool("complete_task", {{"task", cap(1)}});
  }
  if (match(R"((complete|finish|check off|tick off|cross off|checkoff) (.+))") ||
      match(R"((done with|finished with|i'?m done with|i am done with|i finished|i completed|i did|i have finished|i have completed|i'?ve finished|i'?ve completed|i'?ve done|finished|completed) (.+))")) {
    return Tool("complete_task", {{"task", cap(2)}});
  }
  if (match(R"((.+?) (is|are) (done|finished|complete|completed))")) {
    return Tool("complete_task", {{"task", cap(1)}});
  }

  // Rename.
  if (match(R"((rename|change|update|edit|modify) (.+?) (to|into|as) (.+))")) {
    return Tool("update_task", {{"task", cap(2)}, {"title", cap(4)}});
  }

  // Delete.
  if (match(R"((delete|remove|drop|erase|cancel|forget|scratch|get rid of) (.+?)( (from|off|on) {L})?)")) {
    return Tool("delete_task", {{"task", cap(2)}});
  }

  // Add.
  if (match(R"(put (.+?) (on|in|to) {L})")) {
    return Tool("add_task", {{"title", cap(1)}});
  }
  if (match(R"((add|create|new|make|note|jot down|write down|save)( me)?( a| an)?( new)?( task| todo| to-do| item| reminder| note)?( to| for| called| named)?:? (.+?)( (to|on|in) {L})?)")) {
    return Tool("add_task", {{"title", cap(7)}});
  }
  if (match(R"((remind me|don'?t let me forget|don'?t forget|do not forget|remember) to (.+))")) {
    return Tool("add_task", {{"title", cap(2)}});
  }
  // "I need to X" is a task; "I have a question" is not.
  if (match(R"(i(?: really| still| also)? (?:(?:need|have|got|want|ought|have got|'d like|would like) to|must|should|gotta) (.+))")) {
    return Tool("add_task", {{"title", cap(1)}});
  }
  return Text(kUnknownText);
}

// ---- phrasing answers from tool results

std::string Quote(const std::string& s) { return "\u201C" + s + "\u201D"; }

std::string TitleOf(const Json& result) {
  if (result.contains("task") && result["task"].is_object()) {
    return result["task"].value("title", "");
  }
  return "";
}

std::string PhraseError(const std::string& tool, const Json& args, const Json& error) {
  const std::string code = error.value("code", "");
  const std::string message = error.value("message", "");
  const std::string task = args.is_object() ? args.value("task", "") : "";
  if (code == "not_found" && !task.empty()) {
    return "I couldn't find a task matching " + Quote(task) + ".";
  }
  if (code == "ambiguous_task") {
    return "More than one task matches " + Quote(task) + ": " + message +
           ". Which one did you mean?";
  }
  if (code == "insufficient_scope") {
    return "I'm not allowed to do that with this credential (" + message + ").";
  }
  return "Sorry, I couldn't do that: " + message + ".";
}

std::string PhraseResult(const std::string& tool, const Json& args, const Json& result) {
  if (result.is_object() && result.contains("error") && result["error"].is_object()) {
    return PhraseError(tool, args, result["error"]);
  }
  if (tool == "add_task") return "Added " + Quote(TitleOf(result)) + " to your list.";
  if (tool == "complete_task") return "Marked " + Quote(TitleOf(result)) + " as done.";
  if (tool == "uncomplete_task") return "Marked " + Quote(TitleOf(result)) + " as not done.";
  if (tool == "delete_task") {
    const std::string title = TitleOf(result);
    return title.empty() ? "Deleted the task." : "Deleted " + Quote(title) + ".";
  }
  if (tool == "update_task") {
    const std::string before = result.is_object() ? result.value("previous_title", "") : "";
    return before.empty() ? "Renamed the task to " + Quote(TitleOf(result)) + "."
                          : "Renamed " + Quote(before) + " to " + Quote(TitleOf(result)) + ".";
  }
  if (tool == "clear_completed") {
    const int n = result.is_object() ? result.value("deleted", 0) : 0;
    if (n == 0) return "There were no completed tasks to clear.";
    return n == 1 ? "Cleared 1 completed task." : "Cleared " + std::to_string(n) + " completed tasks.";
  }
  if (tool == "list_tasks") {
    const std::string status = args.is_object() ? args.value("status", "all") : "all";
    const std::string kind = status == "all" ? "" : status + " ";
    static const Json kNone = Json::array();
    const Json& tasks = result.is_object() && result.contains("tasks") && result["tasks"].is_array()
                            ? result["tasks"]
                            : kNone;
    if (tasks.empty()) return "You have no " + kind + "tasks.";
    std::string out = "Here are your " + kind + "tasks:";
    int i = 0;
    for (const Json& t : tasks) {
      if (!t.is_object()) continue;
      out += "\n" + std::to_string(++i) + ". " + t.value("title", "");
      if (status == "all" && t.value("completed", false)) out += " (done)";
    }
    return out;
  }
  // An app's tool: show what it said.
  return "Done: " + result.dump();
}

int64_t Estimate(size_t chars) { return static_cast<int64_t>((chars + 3) / 4); }

class RulesProvider final : public LlmProvider {
 public:
  std::string name() const override { return "rules"; }
  // Intents come from the last user message alone.
  bool uses_context() const override { return false; }

  Result<ChatResponse> Chat(const ChatRequest& request, const DeltaSink& on_delta,
                            const CancellationToken& cancel) override {
    if (cancel.cancelled()) return CancelledError("cancelled");
    ChatResponse response;
    size_t prompt_chars = 0;
    for (const ChatMessage& m : request.messages) {
      prompt_chars += m.content.size();
      for (const ToolCall& c : m.tool_calls) prompt_chars += c.name.size() + c.arguments.dump().size();
    }
    response.usage.prompt_tokens = Estimate(prompt_chars);

    int last_user = -1;
    for (int i = static_cast<int>(request.messages.size()) - 1; i >= 0; --i) {
      if (request.messages[i].role == MessageRole::kUser) {
        last_user = i;
        break;
      }
    }
    std::string reply;
    if (last_user < 0) {
      reply = kHelpText;
    } else if (HasToolResults(request, last_user)) {
      reply = Phrase(request, last_user);
    } else {
      Intent intent = Detect(request.messages[last_user].content);
      if (!intent.tool.empty() && Offered(request, intent.tool)) {
        ToolCall call;
        // Unique within the conversation: the prompt only grows.
        call.id = "call_" + std::to_string(request.messages.size()) + "_0";
        call.name = intent.tool;
        call.arguments = intent.arguments;
        response.usage.completion_tokens = Estimate(call.name.size() + call.arguments.dump().size());
        response.tool_calls.push_back(std::move(call));
        response.finish_reason = "tool_calls";
        return response;
      }
      reply = intent.tool.empty() ? intent.text : kUnknownText;
    }
    // Stream word by word (each chunk keeps its following whitespace).
    size_t start = 0;
    while (start < reply.size()) {
      size_t end = reply.find_first_of(" \n", start);
      end = end == std::string::npos ? reply.size() : end + 1;
      if (cancel.cancelled()) return CancelledError("cancelled");
      const std::string_view chunk(reply.data() + start, end - start);
      if (on_delta && !on_delta(chunk)) return CancelledError("cancelled");
      response.content.append(chunk);
      start = end;
    }
    response.usage.completion_tokens = Estimate(response.content.size());
    response.finish_reason = "stop";
    return response;
  }

 private:
  static bool Offered(const ChatRequest& request, const std::string& tool) {
    return std::any_of(request.tools.begin(), request.tools.end(),
                       [&](const ToolSpec& t) { return t.name == tool; });
  }

  static bool HasToolResults(const ChatRequest& request, int last_user) {
    for (size_t i = last_user + 1; i < request.messages.size(); ++i) {
      if (request.messages[i].role == MessageRole::kTool) return true;
    }
    return false;
  }

  static std::string Phrase(const ChatRequest& request, int last_user) {
    std::vector<std::string> lines;
    for (size_t i = last_user + 1; i < request.messages.size(); ++i) {
      const ChatMessage& m = request.messages[i];
      if (m.role != MessageRole::kTool) continue;
      std::string tool = m.name;
      Json args = Json::object();
      // The call this result answers gives the arguments (e.g. the status filter).
      for (size_t j = last_user + 1; j < i; ++j) {
        for (const ToolCall& c : request.messages[j].tool_calls) {
          if (c.id == m.tool_call_id) {
            args = c.arguments;
            if (tool.empty()) tool = c.name;
          }
        }
      }
      // The agent's own loop hands over the result itself (a 20-task
      // listing is ~4 KB of JSON to parse otherwise).
      if (m.tool_result) {
        lines.push_back(PhraseResult(tool, args, *m.tool_result));
        continue;
      }
      Json result = Json::parse(m.content, nullptr, /*allow_exceptions=*/false);
      if (result.is_discarded()) result = Json{{"text", m.content}};
      lines.push_back(PhraseResult(tool, args, result));
    }
    std::string out;
    for (const std::string& line : lines) {
      if (!out.empty()) out += "\n";
      out += line;
    }
    return out;
  }
};

}  // namespace

std::unique_ptr<LlmProvider> NewRulesProvider() { return std::make_unique<RulesProvider>(); }

namespace rules_internal {
// For tests: the tool and arguments (or text) the provider picks for a message.
Json DetectIntentForTest(const std::string& message) {
  Intent i = Detect(message);
  return {{"tool", i.tool}, {"arguments", i.arguments}, {"text", i.text}};
}
}  // namespace rules_internal

}  // namespace assistant
