#include "llm/stream_parsers.hpp"

#include <array>
#include <limits>
#include <optional>
#include <utility>

#include "common/text.hpp"

namespace assistant::llm {

namespace {

const Json* Get(const Json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

const Json* Path(const Json& j, std::initializer_list<const char*> keys) {
  const Json* cur = &j;
  for (const char* k : keys) {
    cur = Get(*cur, k);
    if (cur == nullptr) return nullptr;
  }
  return cur;
}

std::string Str(const Json* j) {
  return j != nullptr && j->is_string() ? j->get<std::string>() : std::string();
}

// A JSON number written with a fraction or exponent, truncated; saturated
// at the int64 range (a plain cast of 1e300 is undefined behaviour).
int64_t FloatToInt(double v) {
  if (v >= 9223372036854775807.0) return std::numeric_limits<int64_t>::max();
  if (v <= -9223372036854775808.0) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(v);
}

int64_t Int(const Json* j) {
  if (j == nullptr || !j->is_number()) return 0;
  if (j->is_number_float()) return FloatToInt(j->get<double>());
  return j->is_number_unsigned() ? static_cast<int64_t>(j->get<uint64_t>())
                                 : j->get<int64_t>();
}

Status StreamError(std::string message) {
  return UnavailableError(std::move(message), "upstream_error");
}

Status Malformed() {
  return StreamError("the LLM upstream sent a malformed stream event");
}

Status EndedEarly() {
  return StreamError("the LLM upstream closed the stream before it finished");
}

// {"error": {"message": ...}} | {"error": "..."} | {"message": ...}
std::string ErrorText(const Json& j) {
  const Json* err = Get(j, "error");
  std::string text;
  if (err != nullptr) {
    text = err->is_string() ? err->get<std::string>() : Str(Get(*err, "message"));
  }
  if (text.empty()) text = Str(Get(j, "message"));
  return text;
}

Status UpstreamSaid(const std::string& text) {
  return StreamError(text.empty() ? "the LLM upstream reported an error"
                                  : "the LLM upstream reported an error: " + text);
}

// An upstream's JSON is outside input like any other: depth-bounded.
Json ParseJson(std::string_view text) { return text::ParseJsonBounded(text); }

void FinishReasonDefault(ChatResponse* r) {
  if (!r->tool_calls.empty() &&
      (r->finish_reason.empty() || r->finish_reason == "stop" ||
       r->finish_reason == "function_call")) {
    r->finish_reason = "tool_calls";
  }
  if (r->finish_reason.empty()) r->finish_reason = "stop";
}

// The common OpenAI chunk — text deltas, a finish_reason, usage — read
// without building a JSON tree: a streamed token is one chunk, and the tree
// (a map node per key, a string per value) cost more than the rest of its
// parse. Only what OnEvent would take from the tree is kept. Anything else —
// tool calls, an error object, unexpected types, repeated keys, too deep,
// not JSON — makes Read() return false, and the caller parses the chunk as
// a whole, so both ways always agree.
class OpenAiChunkReader final {
 public:
  struct Choice {
    int64_t index = 0;
    std::string content;
    std::string finish_reason;
  };

  bool Read(std::string_view text) {
    return Json::sax_parse(text.begin(), text.end(), this) && done_;
  }
  const std::vector<Choice>& choices() const { return choices_; }
  // Set when the chunk held a usage object.
  const std::optional<Usage>& usage() const { return usage_; }

  // json_sax interface. Returning false stops the parse: not a simple chunk.
  bool null() { return Scalar(Kind::kNull); }
  bool boolean(bool) { return Scalar(Kind::kOther); }
  bool number_integer(int64_t v) { return Number(v); }
  bool number_unsigned(uint64_t v) { return Number(static_cast<int64_t>(v)); }
  bool number_float(double v, const std::string&) { return Number(FloatToInt(v)); }
  bool binary(Json::binary_t&) { return false; }
  bool string(std::string& v) {
    if (slot_ == Slot::kContent) {
      choice_.content = std::move(v);
      slot_ = Slot::kNone;
      return true;
    }
    if (slot_ == Slot::kFinishReason) {
      choice_.finish_reason = std::move(v);
      slot_ = Slot::kNone;
      return true;
    }
    return Scalar(Kind::kOther);
  }
  bool start_object(std::size_t) {
    if (depth_ == kMaxDepth) return false;
    Ctx ctx = Ctx::kSkip;
    if (depth_ == 0) {
      ctx = Ctx::kTop;
    } else if (Top() == Ctx::kChoices) {
      choice_ = Choice();
      seen_ = 0;
      ctx = Ctx::kChoice;
    } else if (slot_ == Slot::kDelta) {
      ctx = Ctx::kDelta;
    } else if (slot_ == Slot::kUsage) {
      usage_ = Usage();
      ctx = Ctx::kUsage;
    } else if (slot_ != Slot::kNone) {
      return false;  // choices, index, content... as an object
    }
    open_[depth_++] = ctx;
    slot_ = Slot::kNone;
    return true;
  }
  bool start_array(std::size_t) {
    if (depth_ == kMaxDepth) return false;
    if (depth_ == 0 || Top() == Ctx::kChoices) return false;
    Ctx ctx = Ctx::kSkip;
    if (slot_ == Slot::kChoices) {
      ctx = Ctx::kChoices;
    } else if (slot_ != Slot::kNone) {
      return false;
    }
    open_[depth_++] = ctx;
    slot_ = Slot::kNone;
    return true;
  }
  bool end_object() { return End(); }
  bool end_array() { return End(); }
  bool key(std::string& k) {
    slot_ = Slot::kNone;
    switch (Top()) {
      case Ctx::kTop:
        if (k == "choices") return Take(Slot::kChoices, kSeenChoices, &top_seen_);
        if (k == "usage") return Take(Slot::kUsage, kSeenUsage, &top_seen_);
        return k != "error";  // the caller reports it
      case Ctx::kChoice:
        if (k == "index") return Take(Slot::kIndex, kSeenIndex, &seen_);
        if (k == "delta") return Take(Slot::kDelta, kSeenDelta, &seen_);
        if (k == "finish_reason") return Take(Slot::kFinishReason, kSeenFinish, &seen_);
        return true;
      case Ctx::kDelta:
        if (k == "content") return Take(Slot::kContent, kSeenContent, &seen_);
        return k != "tool_calls";  // accumulated by the caller
      case Ctx::kUsage:
        if (k == "prompt_tokens") return Take(Slot::kPromptTokens, kSeenPrompt, &usage_seen_);
        if (k == "completion_tokens") {
          return Take(Slot::kCompletionTokens, kSeenCompletion, &usage_seen_);
        }
        return true;
      default:
        return true;
    }
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
    return false;
  }

 private:
  enum class Ctx : uint8_t { kTop, kChoices, kChoice, kDelta, kUsage, kSkip };
  // What the next value is, from its key.
  enum class Slot : uint8_t {
    kNone, kChoices, kUsage, kIndex, kDelta, kFinishReason, kContent, kPromptTokens,
    kCompletionTokens
  };
  enum class Kind : uint8_t { kNull, kOther };
  // Keys already seen in the current object; a repeated one is left to the
  // tree, whose last value wins.
  static constexpr unsigned kSeenChoices = 1, kSeenUsage = 2, kSeenIndex = 4, kSeenDelta = 8,
                            kSeenFinish = 16, kSeenContent = 32, kSeenPrompt = 64,
                            kSeenCompletion = 128;

  bool Take(Slot slot, unsigned bit, unsigned* seen) {
    if (*seen & bit) return false;
    *seen |= bit;
    slot_ = slot;
    return true;
  }

  bool Number(int64_t v) {
    switch (slot_) {
      case Slot::kIndex: choice_.index = v; break;
      case Slot::kPromptTokens: usage_->prompt_tokens = v; break;
      case Slot::kCompletionTokens: usage_->completion_tokens = v; break;
      default: return Scalar(Kind::kOther);
    }
    slot_ = Slot::kNone;
    return true;
  }

  // Any other scalar value.
  bool Scalar(Kind kind) {
    if (depth_ == 0 || Top() == Ctx::kChoices) return false;
    const Slot slot = slot_;
    slot_ = Slot::kNone;
    switch (slot) {
      case Slot::kNone:
      case Slot::kDelta:             // a delta that is not an object says nothing
      case Slot::kPromptTokens:      // not a number: 0, as set with the object
      case Slot::kCompletionTokens:
        return true;
      case Slot::kUsage:
      case Slot::kContent:
      case Slot::kFinishReason:
        return kind == Kind::kNull;  // no usage, no text, no reason
      default:
        return false;  // choices or index of another type
    }
  }

  bool End() {
    const Ctx ctx = open_[--depth_];
    slot_ = Slot::kNone;
    if (ctx == Ctx::kChoice) choices_.push_back(std::move(choice_));
    if (depth_ == 0) done_ = true;
    return true;
  }

  Ctx Top() const { return open_[depth_ - 1]; }

  // The containers open around the current value, outermost first; as deep
  // as the tree path allows.
  static constexpr int kMaxDepth = text::kMaxJsonDepth;
  std::array<Ctx, kMaxDepth> open_;
  int depth_ = 0;
  Slot slot_ = Slot::kNone;
  unsigned top_seen_ = 0;
  unsigned seen_ = 0;  // keys of the current choice and its delta
  unsigned usage_seen_ = 0;
  Choice choice_;
  std::vector<Choice> choices_;
  std::optional<Usage> usage_;
  bool done_ = false;
};

}  // namespace

// ---------------------------------------------------------------------------

Status ChatStreamParser::Feed(std::string_view chunk, std::vector<std::string>* deltas) {
  if (!error_.ok()) return error_;
  error_ = DoFeed(chunk, deltas);
  return error_;
}

Status ChatStreamParser::Finish(std::vector<std::string>* deltas) {
  if (!error_.ok()) return error_;
  error_ = DoFinish(deltas);
  if (error_.ok()) FinishReasonDefault(&response_);
  return error_;
}

void ChatStreamParser::AddText(std::string_view text, std::vector<std::string>* deltas) {
  if (text.empty()) return;
  response_.content.append(text);
  deltas->emplace_back(text);
}

// ---------------------------------------------------------------------------

Json ParseToolArguments(std::string_view text) {
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return Json::object();
  Json parsed = ParseJson(text);
  if (parsed.is_object()) return parsed;
  if (parsed.is_string()) {
    Json inner = ParseJson(parsed.get<std::string>());
    if (inner.is_object()) return inner;
  }
  return Json{{"_raw", std::string(text)}};
}

void ToolCallAccumulator::Begin(int index, std::string_view id, std::string_view name) {
  Partial& p = calls_[index];
  if (p.id.empty()) p.id.assign(id);
  if (p.name.empty()) p.name.assign(name);
}

void ToolCallAccumulator::AppendArguments(int index, std::string_view fragment) {
  calls_[index].arguments.append(fragment);
}

std::vector<ToolCall> ToolCallAccumulator::Finish() const {
  std::vector<ToolCall> out;
  for (const auto& [index, p] : calls_) {
    ToolCall call;
    call.id = p.id.empty() ? "call_" + std::to_string(index) : p.id;
    call.name = p.name;
    call.arguments = ParseToolArguments(p.arguments);
    out.push_back(std::move(call));
  }
  return out;
}

// --------------------------------------------------------------- OpenAI ---

Status OpenAiStreamParser::DoFeed(std::string_view chunk, std::vector<std::string>* deltas) {
  events_.clear();
  Status framing = sse_.Feed(chunk, &events_);
  // Events completed before a framing error still count.
  for (const SseEvent& ev : events_) {
    ASSISTANT_RETURN_IF_ERROR(OnEvent(ev, deltas));
  }
  return framing;
}

Status OpenAiStreamParser::OnEvent(const SseEvent& ev, std::vector<std::string>* deltas) {
  if (done_) return Status::Ok();  // nothing counts after [DONE]
  if (ev.data == "[DONE]") {
    done_ = true;
    return Status::Ok();
  }
  if (ev.event != "error") {
    OpenAiChunkReader chunk;
    if (chunk.Read(ev.data)) {
      if (const auto& usage = chunk.usage()) {
        response_.usage.prompt_tokens = usage->prompt_tokens;
        response_.usage.completion_tokens = usage->completion_tokens;
      }
      for (const auto& choice : chunk.choices()) {
        if (choice.index != 0) continue;  // as below
        AddText(choice.content, deltas);
        if (!choice.finish_reason.empty()) response_.finish_reason = choice.finish_reason;
      }
      return Status::Ok();
    }
  }
  Json j = ParseJson(ev.data);
  if (j.is_discarded() || !j.is_object()) return Malformed();
  if (ev.event == "error" || Get(j, "error") != nullptr) return UpstreamSaid(ErrorText(j));

  if (const Json* usage = Get(j, "usage"); usage != nullptr && usage->is_object()) {
    response_.usage.prompt_tokens = Int(Get(*usage, "prompt_tokens"));
    response_.usage.completion_tokens = Int(Get(*usage, "completion_tokens"));
  }
  const Json* choices = Get(j, "choices");
  if (choices == nullptr || !choices->is_array()) return Status::Ok();
  for (const Json& choice : *choices) {
    // n = 1: only the first choice is the reply.
    if (const Json* idx = Get(choice, "index"); idx != nullptr && Int(idx) != 0) continue;
    const Json* delta = Get(choice, "delta");
    if (delta != nullptr) {
      AddText(Str(Get(*delta, "content")), deltas);
      const Json* calls = Get(*delta, "tool_calls");
      if (calls != nullptr && calls->is_array()) {
        int position = 0;
        for (const Json& call : *calls) {
          const Json* index = Get(call, "index");
          int i = index != nullptr && index->is_number_integer()
                      ? static_cast<int>(Int(index))
                      : position;
          ++position;
          const Json* fn = Get(call, "function");
          tools_.Begin(i, Str(Get(call, "id")), fn ? Str(Get(*fn, "name")) : "");
          if (fn != nullptr) {
            const Json* args = Get(*fn, "arguments");
            if (args != nullptr && args->is_string()) {
              tools_.AppendArguments(i, args->get_ref<const std::string&>());
            } else if (args != nullptr && args->is_object()) {
              // Some compatible servers send the object itself.
              tools_.AppendArguments(i, args->dump());
            }
          }
        }
      }
    }
    std::string reason = Str(Get(choice, "finish_reason"));
    if (!reason.empty()) response_.finish_reason = reason;
  }
  return Status::Ok();
}

Status OpenAiStreamParser::DoFinish(std::vector<std::string>* deltas) {
  sse_.Finish();
  // [DONE] is the end marker; a server that omits it but sent a
  // finish_reason has finished too.
  if (!done_ && response_.finish_reason.empty()) return EndedEarly();
  response_.tool_calls = tools_.Finish();
  return Status::Ok();
}

// --------------------------------------------------------------- Ollama ---

Status OllamaStreamParser::DoFeed(std::string_view chunk, std::vector<std::string>* deltas) {
  Status line_status;
  Status framing = lines_.Feed(chunk, [&](std::string_view line) {
    if (line_status.ok()) line_status = OnLine(line, deltas);
  });
  ASSISTANT_RETURN_IF_ERROR(line_status);
  return framing;
}

Status OllamaStreamParser::OnLine(std::string_view line, std::vector<std::string>* deltas) {
  if (line.find_first_not_of(" \t") == std::string_view::npos) return Status::Ok();
  if (done_) return Status::Ok();
  Json j = ParseJson(line);
  if (j.is_discarded() || !j.is_object()) return Malformed();
  if (Get(j, "error") != nullptr) return UpstreamSaid(ErrorText(j));
  if (const Json* msg = Get(j, "message"); msg != nullptr) {
    AddText(Str(Get(*msg, "content")), deltas);
    const Json* calls = Get(*msg, "tool_calls");
    if (calls != nullptr && calls->is_array()) {
      for (const Json& call : *calls) {
        const Json* fn = Get(call, "function");
        if (fn == nullptr) continue;
        ToolCall tc;
        tc.id = Str(Get(call, "id"));
        if (tc.id.empty()) tc.id = "call_" + std::to_string(tool_calls_.size());
        tc.name = Str(Get(*fn, "name"));
        const Json* args = Get(*fn, "arguments");
        if (args != nullptr && args->is_object()) {
          tc.arguments = *args;
        } else if (args != nullptr && args->is_string()) {
          tc.arguments = ParseToolArguments(args->get_ref<const std::string&>());
        }
        tool_calls_.push_back(std::move(tc));
      }
    }
  }
  const Json* done = Get(j, "done");
  if (done != nullptr && done->is_boolean() && done->get<bool>()) {
    done_ = true;
    response_.finish_reason = Str(Get(j, "done_reason"));
    response_.usage.prompt_tokens = Int(Get(j, "prompt_eval_count"));
    response_.usage.completion_tokens = Int(Get(j, "eval_count"));
  }
  return Status::Ok();
}

Status OllamaStreamParser::DoFinish(std::vector<std::string>* deltas) {
  Status line_status;
  lines_.Finish([&](std::string_view line) {
    if (line_status.ok()) line_status = OnLine(line, deltas);
  });
  ASSISTANT_RETURN_IF_ERROR(line_status);
  if (!done_) return EndedEarly();
  response_.tool_calls = std::move(tool_calls_);
  tool_calls_.clear();
  return Status::Ok();
}

// --------------------------------------------------------------- Cohere ---

Status CohereStreamParser::DoFeed(std::string_view chunk, std::vector<std::string>* deltas) {
  std::vector<SseEvent> events;
  Status framing = sse_.Feed(chunk, &events);
  for (const SseEvent& ev : events) {
    ASSISTANT_RETURN_IF_ERROR(OnEvent(ev, deltas));
  }
  return framing;
}

Status CohereStreamParser::OnEvent(const SseEvent& ev, std::vector<std::string>* deltas) {
  if (done_) return Status::Ok();
  if (ev.data == "[DONE]") {
    done_ = true;
    return Status::Ok();
  }
  Json j = ParseJson(ev.data);
  if (j.is_discarded() || !j.is_object()) return Malformed();
  // The type is in the JSON; the `event:` line repeats it.
  std::string type = Str(Get(j, "type"));
  if (type.empty()) type = ev.event;
  const Json* message = Path(j, {"delta", "message"});

  if (type == "content-delta" || type == "content-start") {
    if (message != nullptr) AddText(Str(Path(*message, {"content", "text"})), deltas);
  } else if (type == "tool-plan-delta") {
    if (message != nullptr) tool_plan_ += Str(Get(*message, "tool_plan"));
  } else if (type == "tool-call-start" || type == "tool-call-delta") {
    int index = static_cast<int>(Int(Get(j, "index")));
    const Json* call = message != nullptr ? Get(*message, "tool_calls") : nullptr;
    if (call != nullptr && call->is_array()) call = call->empty() ? nullptr : &(*call)[0];
    if (call != nullptr) {
      const Json* fn = Get(*call, "function");
      if (type == "tool-call-start") {
        tools_.Begin(index, Str(Get(*call, "id")), fn ? Str(Get(*fn, "name")) : "");
      }
      if (fn != nullptr) tools_.AppendArguments(index, Str(Get(*fn, "arguments")));
    }
  } else if (type == "message-end") {
    done_ = true;
    const Json* delta = Get(j, "delta");
    std::string reason = delta ? Str(Get(*delta, "finish_reason")) : "";
    if (reason == "ERROR" || reason == "TIMEOUT") {
      const Json* err = delta ? Get(*delta, "error") : nullptr;
      return UpstreamSaid(err != nullptr && err->is_string() ? err->get<std::string>()
                                                             : std::string());
    }
    if (reason == "COMPLETE" || reason == "STOP_SEQUENCE") {
      response_.finish_reason = "stop";
    } else if (reason == "MAX_TOKENS") {
      response_.finish_reason = "length";
    } else if (reason == "TOOL_CALL") {
      response_.finish_reason = "tool_calls";
    } else {
      response_.finish_reason = reason;
    }
    const Json* usage = delta ? Get(*delta, "usage") : nullptr;
    if (usage != nullptr) {
      // Prefer the tokens the model saw; billed units otherwise.
      const Json* counts = Get(*usage, "tokens");
      if (counts == nullptr || !counts->is_object()) counts = Get(*usage, "billed_units");
      if (counts != nullptr) {
        response_.usage.prompt_tokens = Int(Get(*counts, "input_tokens"));
        response_.usage.completion_tokens = Int(Get(*counts, "output_tokens"));
      }
    }
  } else if (type == "error" || (type.empty() && Get(j, "message") != nullptr)) {
    return UpstreamSaid(ErrorText(j));
  }
  // message-start, content-end, tool-call-end, citation-*: nothing to keep.
  return Status::Ok();
}

Status CohereStreamParser::DoFinish(std::vector<std::string>* deltas) {
  sse_.Finish();
  if (!done_) return EndedEarly();
  response_.tool_calls = tools_.Finish();
  if (!response_.tool_calls.empty()) response_.tool_plan = tool_plan_;
  return Status::Ok();
}

}  // namespace assistant::llm
