#include "llm/sse_parser.hpp"

#include <cctype>

namespace assistant::llm {

namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

// The first CR or LF at or after `from`. (find_first_of("\r\n") calls
// memchr on the two-byte set once per byte scanned: most of a streamed
// token's line splitting.)
size_t FindLineEnd(std::string_view s, size_t from) {
  for (size_t i = from; i < s.size(); ++i) {
    if (s[i] == '\n' || s[i] == '\r') return i;
  }
  return std::string_view::npos;
}

Status LineTooLong() {
  return UnavailableError("the LLM upstream sent an over-long line",
                          "upstream_error");
}

}  // namespace

Status LineSplitter::Feed(std::string_view chunk, const LineSink& on_line) {
  size_t i = 0;
  if (after_cr_ && !chunk.empty()) {
    // The LF of a CRLF split across two chunks.
    if (chunk[0] == '\n') ++i;
    after_cr_ = false;
  }
  while (i < chunk.size()) {
    size_t end = FindLineEnd(chunk, i);
    if (end == std::string_view::npos) {
      if (partial_.size() + (chunk.size() - i) > kMaxLineBytes) {
        return LineTooLong();
      }
      partial_.append(chunk.substr(i));
      break;
    }
    if (partial_.empty()) {
      on_line(chunk.substr(i, end - i));
    } else {
      if (partial_.size() + (end - i) > kMaxLineBytes) return LineTooLong();
      partial_.append(chunk.substr(i, end - i));
      on_line(partial_);
      partial_.clear();
    }
    i = end + 1;
    if (chunk[end] == '\r') {
      if (i < chunk.size()) {
        if (chunk[i] == '\n') ++i;
      } else {
        after_cr_ = true;
      }
    }
  }
  return Status::Ok();
}

void LineSplitter::Finish(const LineSink& on_line) {
  if (!partial_.empty()) on_line(partial_);
  partial_.clear();
  after_cr_ = false;
}

Status SseParser::Feed(std::string_view chunk, std::vector<SseEvent>* out) {
  if (!bom_checked_) {
    // Hold the first bytes until they are known to be (or not be) a BOM,
    // which may itself arrive split.
    bom_prefix_.append(chunk);
    if (bom_prefix_.size() < kBom.size() &&
        kBom.substr(0, bom_prefix_.size()) == bom_prefix_) {
      return Status::Ok();
    }
    bom_checked_ = true;
    std::string held = std::move(bom_prefix_);
    bom_prefix_.clear();
    std::string_view rest = held;
    if (rest.substr(0, kBom.size()) == kBom) rest.remove_prefix(kBom.size());
    return lines_.Feed(rest, [&](std::string_view l) { OnLine(l, out); });
  }
  return lines_.Feed(chunk, [&](std::string_view l) { OnLine(l, out); });
}

void SseParser::Finish() {
  // "If the file ends in the middle of an event, before the final empty
  // line, the incomplete event is not dispatched."
  lines_ = LineSplitter();
  event_type_.clear();
  data_.clear();
  bom_prefix_.clear();
}

void SseParser::OnLine(std::string_view line, std::vector<SseEvent>* out) {
  if (line.empty()) {
    // Dispatch.
    if (data_.empty()) {
      event_type_.clear();
      return;
    }
    SseEvent ev;
    if (data_.back() == '\n') data_.pop_back();
    ev.data = std::move(data_);
    if (!event_type_.empty()) ev.event = std::move(event_type_);
    ev.id = last_id_;
    out->push_back(std::move(ev));
    data_.clear();
    event_type_.clear();
    return;
  }
  if (line[0] == ':') return;  // comment (keep-alive)
  std::string_view field = line;
  std::string_view value;
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  }
  if (field == "event") {
    event_type_.assign(value);
  } else if (field == "data") {
    data_.append(value);
    data_.push_back('\n');
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) last_id_.assign(value);
  } else if (field == "retry") {
    bool digits = !value.empty() && value.size() <= 18;
    for (char c : value) digits = digits && std::isdigit(static_cast<unsigned char>(c));
    if (digits) retry_ms_ = std::stoll(std::string(value));
  }
  // Other fields are ignored.
}

}  // namespace assistant::llm
