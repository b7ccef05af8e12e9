// Incremental parsers for the framing layers of streamed LLM replies: lines
// (LF, CRLF or CR, as SSE allows) and Server-Sent Events per the WHATWG
// EventSource processing model. Both accept the byte stream cut anywhere —
// mid-line, mid-event, mid-character, between CR and LF — and produce the
// same output for every cut.
//
// Thread safety: one parser per stream; not synchronised.
#ifndef ASSISTANT_SRC_LLM_SSE_PARSER_HPP_
#define ASSISTANT_SRC_LLM_SSE_PARSER_HPP_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "assistant/status.hpp"

namespace assistant::llm {

// A line longer than this is a broken or hostile upstream, not a reply.
inline constexpr size_t kMaxLineBytes = 8 * 1024 * 1024;

// Cuts a byte stream into lines terminated by "\r\n", "\n" or "\r". A CR at
// the end of one chunk and an LF at the start of the next are one terminator.
class LineSplitter final {
 public:
  using LineSink = std::function<void(std::string_view line)>;

  // Calls `on_line` for every line this chunk completes (without its
  // terminator). Unavailable (upstream_error) when a line exceeds
  // kMaxLineBytes.
  Status Feed(std::string_view chunk, const LineSink& on_line);
  // The unterminated rest, if any, as a last line (NDJSON may end without a
  // newline). SSE discards it instead (see SseParser::Finish).
  void Finish(const LineSink& on_line);
  // Bytes held of an unterminated line.
  const std::string& pending() const { return partial_; }

 private:
  std::string partial_;
  bool after_cr_ = false;
};

struct SseEvent {
  std::string event = "message";  // the `event:` field, "message" if none
  std::string data;                // `data:` lines joined with "\n"
  std::string id;                  // the last event id in force
  bool operator==(const SseEvent& o) const {
    return event == o.event && data == o.data && id == o.id;
  }
};

// WHATWG "event stream interpretation": `event`, `data`, `id`, `retry`
// fields, `:` comments, one optional space after the colon, a blank line
// dispatches, a leading UTF-8 BOM is skipped, an event with no data is not
// dispatched, and an event cut off by the end of the stream is discarded.
class SseParser final {
 public:
  // Appends the events this chunk completes to `out`.
  Status Feed(std::string_view chunk, std::vector<SseEvent>* out);
  // End of stream: a partial event is discarded, as the spec says.
  void Finish();
  // The last valid `retry:` value in milliseconds, if any.
  std::optional<int64_t> retry_ms() const { return retry_ms_; }

 private:
  void OnLine(std::string_view line, std::vector<SseEvent>* out);

  LineSplitter lines_;
  bool bom_checked_ = false;
  std::string bom_prefix_;  // leading bytes held until the BOM is decided
  std::string event_type_;
  std::string data_;
  std::string last_id_;
  std::optional<int64_t> retry_ms_;
};

}  // namespace assistant::llm

#endif  // ASSISTANT_SRC_LLM_SSE_PARSER_HPP_
