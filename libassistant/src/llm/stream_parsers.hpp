// Incremental parsers of the three streamed chat wire formats: OpenAI Chat
// Completions (SSE `data:` chunks ending with `[DONE]`), Ollama /api/chat
// (NDJSON) and Cohere v2 /v2/chat (typed SSE events). Each is fed the HTTP
// body in chunks cut anywhere and yields the same text deltas and the same
// final ChatResponse for every cut. Deltas are whole decoded JSON strings, so
// a delta never holds half a UTF-8 character.
//
// Tool-call arguments that arrive as JSON text (OpenAI, Cohere) are
// accumulated per call and parsed once the stream ends. Arguments that are
// not a JSON object are kept, not dropped: the call is reported with
// arguments {"_raw": "<text as received>"}, so the tool sees (and can report)
// what the model produced.
//
// Errors are Unavailable with reason "upstream_error": an error object in the
// stream (its message is the upstream's own and must be redacted before it
// leaves the provider), an event that is not JSON, or a stream that ended
// before its terminal marker. After an error, Feed keeps returning it.
//
// Thread safety: one parser per stream; not synchronised.
#ifndef ASSISTANT_SRC_LLM_STREAM_PARSERS_HPP_
#define ASSISTANT_SRC_LLM_STREAM_PARSERS_HPP_

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "assistant/llm.hpp"
#include "assistant/status.hpp"
#include "llm/sse_parser.hpp"

namespace assistant::llm {

class ChatStreamParser {
 public:
  virtual ~ChatStreamParser() = default;

  // Parses one chunk of the body; appends the text deltas it completes.
  Status Feed(std::string_view chunk, std::vector<std::string>* deltas);
  // The body ended: flushes what is left (appending deltas), completes the
  // tool calls, and fails when the terminal marker never came.
  Status Finish(std::vector<std::string>* deltas);

  // The reply so far; complete after a successful Finish.
  const ChatResponse& response() const { return response_; }
  // Whether the terminal marker ([DONE], done:true, message-end) was seen.
  bool done() const { return done_; }
  // A parser in the same state (the tests branch a stream at every byte).
  virtual std::unique_ptr<ChatStreamParser> Clone() const = 0;

 protected:
  virtual Status DoFeed(std::string_view chunk, std::vector<std::string>* deltas) = 0;
  virtual Status DoFinish(std::vector<std::string>* deltas) = 0;

  void AddText(std::string_view text, std::vector<std::string>* deltas);

  ChatResponse response_;
  bool done_ = false;

 private:
  Status error_;
};

// Collects tool calls whose id/name and argument fragments arrive across many
// events, keyed by the stream's index.
class ToolCallAccumulator final {
 public:
  void Begin(int index, std::string_view id, std::string_view name);
  void AppendArguments(int index, std::string_view fragment);
  // In index order; ids default to "call_<index>".
  std::vector<ToolCall> Finish() const;
  bool empty() const { return calls_.empty(); }

 private:
  struct Partial {
    std::string id;
    std::string name;
    std::string arguments;
  };
  std::map<int, Partial> calls_;
};

// Arguments text -> object: "" is {}, an object is itself, a JSON string
// holding an object (double-encoded) is that object, anything else is
// {"_raw": text}.
Json ParseToolArguments(std::string_view text);

class OpenAiStreamParser final : public ChatStreamParser {
 public:
  std::unique_ptr<ChatStreamParser> Clone() const override {
    return std::make_unique<OpenAiStreamParser>(*this);
  }

 protected:
  Status DoFeed(std::string_view chunk, std::vector<std::string>* deltas) override;
  Status DoFinish(std::vector<std::string>* deltas) override;

 private:
  Status OnEvent(const SseEvent& ev, std::vector<std::string>* deltas);
  SseParser sse_;
  std::vector<SseEvent> events_;  // DoFeed's, kept to reuse its storage
  ToolCallAccumulator tools_;
};

class OllamaStreamParser final : public ChatStreamParser {
 public:
  std::unique_ptr<ChatStreamParser> Clone() const override {
    return std::make_unique<OllamaStreamParser>(*this);
  }

 protected:
  Status DoFeed(std::string_view chunk, std::vector<std::string>* deltas) override;
  Status DoFinish(std::vector<std::string>* deltas) override;

 private:
  Status OnLine(std::string_view line, std::vector<std::string>* deltas);
  LineSplitter lines_;
  std::vector<ToolCall> tool_calls_;
};

class CohereStreamParser final : public ChatStreamParser {
 public:
  std::unique_ptr<ChatStreamParser> Clone() const override {
    return std::make_unique<CohereStreamParser>(*this);
  }
  // The model's tool plan (tool-plan-delta), kept out of the content and
  // returned with the tool calls it explains (ChatResponse::tool_plan).
  const std::string& tool_plan() const { return tool_plan_; }

 protected:
  Status DoFeed(std::string_view chunk, std::vector<std::string>* deltas) override;
  Status DoFinish(std::vector<std::string>* deltas) override;

 private:
  Status OnEvent(const SseEvent& ev, std::vector<std::string>* deltas);
  SseParser sse_;
  ToolCallAccumulator tools_;
  std::string tool_plan_;
};

}  // namespace assistant::llm

#endif  // ASSISTANT_SRC_LLM_STREAM_PARSERS_HPP_
