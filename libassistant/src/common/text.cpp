#include "common/json_text.hpp"
#include "common/text.hpp"

#include <cstdint>

namespace assistant::text {
namespace {

// Decodes one code point at `i`; returns its length in bytes, 0 when the
// sequence is not strict UTF-8 (overlong, surrogate, > U+10FFFF, truncated,
// stray continuation byte).
size_t DecodeOne(std::string_view s, size_t i, uint32_t* cp) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  }
  size_t len;
  uint32_t min;
  uint32_t v;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, min = 0x80, v = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, min = 0x800, v = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, min = 0x10000, v = b0 & 0x07;
  } else {
    return 0;  // continuation byte or 0xF8..0xFF lead
  }
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    v = (v << 6) | (b & 0x3F);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *cp = v;
  return len;
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  uint32_t cp;
  while (i < s.size()) {
    size_t n = DecodeOne(s, i, &cp);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

size_t CharCount(std::string_view s) {
  size_t count = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++count;  // every byte but continuation bytes starts a code point
  }
  return count;
}

std::string StripControl(std::string_view s, bool multi_line) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\r') {
      // CRLF and a lone CR both end a line; single-line text drops them.
      if (multi_line) {
        out.push_back('\n');
        if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
      }
      continue;
    }
    if (c < 0x20 || c == 0x7F) {
      if (multi_line && (c == '\t' || c == '\n')) out.push_back(static_cast<char>(c));
      continue;
    }
    // C1 controls U+0080..U+009F are encoded as C2 80..C2 9F.
    if (c == 0xC2 && i + 1 < s.size()) {
      const auto next = static_cast<unsigned char>(s[i + 1]);
      if (next >= 0x80 && next <= 0x9F) {
        ++i;
        continue;
      }
    }
    out.push_back(static_cast<char>(c));
  }
  return out;
}

Result<std::string> CleanText(std::string_view in, std::string_view field,
                              size_t min_chars, size_t max_chars, bool multi_line) {
  if (!IsValidUtf8(in)) {
    return MalformedError("invalid UTF-8 in " + std::string(field));
  }
  std::string out = StripControl(in, multi_line);
  if (!multi_line) {
    size_t b = 0;
    size_t e = out.size();
    while (b < e && IsSpace(out[b])) ++b;
    while (e > b && IsSpace(out[e - 1])) --e;
    out = out.substr(b, e - b);
  }
  const size_t n = CharCount(out);
  if (n < min_chars || n > max_chars) {
    std::string f(field);
    std::string msg;
    if (n == 0) {
      msg = f + " must not be empty";
    } else if (min_chars == max_chars) {
      msg = f + " must be " + std::to_string(min_chars) + " characters";
    } else {
      msg = f + " must be " + std::to_string(min_chars) + " to " +
            std::to_string(max_chars) + " characters (got " + std::to_string(n) + ")";
    }
    return InvalidArgumentError(std::move(msg), std::move(f));
  }
  return out;
}

std::string NormalizeEmail(std::string_view email) {
  size_t b = 0;
  size_t e = email.size();
  while (b < e && IsSpace(email[b])) ++b;
  while (e > b && IsSpace(email[e - 1])) --e;
  std::string out(email.substr(b, e - b));
  if (out.empty() || out.size() > 254) return "";
  size_t at_count = 0;
  size_t at = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    const auto c = static_cast<unsigned char>(out[i]);
    if (c <= 0x20 || c == 0x7F) return "";  // whitespace and controls
    if (c == '@') {
      ++at_count;
      at = i;
    }
    if (c >= 'A' && c <= 'Z') out[i] = static_cast<char>(c - 'A' + 'a');
  }
  if (at_count != 1 || at == 0 || at + 1 == out.size()) return "";
  if (!IsValidUtf8(out)) return "";
  return out;
}

Json ParseJsonBounded(std::string_view text) {
  if (JsonNestingDepth(text) > kMaxJsonDepth) return Json(Json::value_t::discarded);
  return Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
}

}  // namespace assistant::text
