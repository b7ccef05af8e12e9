// Compact JSON text (common/json_text.hpp: AppendJson, DumpJson,
// AppendJsonString, JsonNestingDepth).
//
// Why not nlohmann's dump: its serializer runs every byte of every string
// through a UTF-8 decoder and a switch, which made rendering JSON about a
// third of an agent turn (a reply carrying a 20-task tool result is ~5 KB,
// rendered for storage and again for the response). Here runs of plain
// ASCII are found eight bytes at a time and copied whole; well-formed UTF-8
// is copied as is. The output is nlohmann's dump(-1, ' ', false,
// error_handler_t::replace) byte for byte: a string holding ill-formed UTF-8
// (rare: input is checked where it enters) and every floating-point number
// are handed to nlohmann itself, so its replacement rules and its shortest
// round-trip float format hold without being re-implemented.
#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "common/json_text.hpp"

namespace assistant {
namespace {

constexpr uint64_t kOnes = 0x0101010101010101ULL;
constexpr uint64_t kHighs = 0x8080808080808080ULL;

// Whether any byte of `v` is zero (exact: no false positives).
constexpr uint64_t HasZero(uint64_t v) { return (v - kOnes) & ~v & kHighs; }

// The length of the prefix of `s` that goes into a JSON string as it is:
// bytes 0x20-0x7f other than '"' and '\\'. Eight bytes are checked at a time.
size_t PlainPrefix(const char* p, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v;
    std::memcpy(&v, p + i, 8);
    // A byte < 0x20 or >= 0x80 (bit 7 set), '"' or '\\'.
    const uint64_t special = ((v - kOnes * 0x20) & ~v & kHighs) | (v & kHighs) |
                             HasZero(v ^ (kOnes * '"')) | HasZero(v ^ (kOnes * '\\'));
    if (special != 0) break;
  }
  for (; i < n; ++i) {
    const auto b = static_cast<unsigned char>(p[i]);
    if (b < 0x20 || b >= 0x80 || b == '"' || b == '\\') break;
  }
  return i;
}

// The length of the well-formed UTF-8 sequence starting at p[0] (a byte
// >= 0x80), or 0 when it is ill-formed (Unicode Table 3-7).
size_t Utf8SequenceLength(const unsigned char* p, size_t n) {
  const unsigned char c = p[0];
  size_t len;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;  // overlong
    if (c == 0xED) hi = 0x9F;  // surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;  // overlong
    if (c == 0xF4) hi = 0x8F;  // beyond U+10FFFF
  } else {
    return 0;
  }
  if (n < len || p[1] < lo || p[1] > hi) return 0;
  for (size_t k = 2; k < len; ++k) {
    if ((p[k] & 0xC0) != 0x80) return 0;
  }
  return len;
}

// Appends `s` escaped, without quotes. False (having appended a prefix)
// when `s` holds ill-formed UTF-8.
bool AppendEscaped(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  const char* p = s.data();
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const size_t run = PlainPrefix(p + i, n - i);
    out.append(p + i, run);
    i += run;
    if (i == n) break;
    const auto c = static_cast<unsigned char>(p[i]);
    if (c >= 0x80) {
      const size_t len = Utf8SequenceLength(reinterpret_cast<const unsigned char*>(p + i), n - i);
      if (len == 0) return false;
      out.append(p + i, len);
      i += len;
      continue;
    }
    switch (c) {
      case '"': out.append("\\\"", 2); break;
      case '\\': out.append("\\\\", 2); break;
      case '\b': out.append("\\b", 2); break;
      case '\t': out.append("\\t", 2); break;
      case '\n': out.append("\\n", 2); break;
      case '\f': out.append("\\f", 2); break;
      case '\r': out.append("\\r", 2); break;
      default: {
        const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
        out.append(esc, 6);
      }
    }
    ++i;
  }
  return true;
}

template <typename Int>
void AppendInteger(std::string& out, Int v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<size_t>(r.ptr - buf));
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view s) {
  const size_t start = out.size();
  out += '"';
  if (AppendEscaped(out, s)) {
    out += '"';
    return;
  }
  // Ill-formed UTF-8: nlohmann's own replacement (one U+FFFD per maximal
  // ill-formed subsequence, re-reading the byte that ended it).
  out.resize(start);
  out += Json(std::string(s)).dump(-1, ' ', false, Json::error_handler_t::replace);
}

void AppendJson(std::string& out, const Json& j) {
  switch (j.type()) {
    case Json::value_t::object: {
      const auto& obj = j.get_ref<const Json::object_t&>();
      if (obj.empty()) {
        out.append("{}", 2);
        return;
      }
      out += '{';
      bool first = true;
      for (const auto& [key, value] : obj) {
        if (!first) out += ',';
        first = false;
        AppendJsonString(out, key);
        out += ':';
        AppendJson(out, value);
      }
      out += '}';
      return;
    }
    case Json::value_t::array: {
      const auto& arr = j.get_ref<const Json::array_t&>();
      if (arr.empty()) {
        out.append("[]", 2);
        return;
      }
      out += '[';
      bool first = true;
      for (const Json& value : arr) {
        if (!first) out += ',';
        first = false;
        AppendJson(out, value);
      }
      out += ']';
      return;
    }
    case Json::value_t::string:
      AppendJsonString(out, j.get_ref<const Json::string_t&>());
      return;
    case Json::value_t::boolean:
      if (j.get<bool>()) {
        out.append("true", 4);
      } else {
        out.append("false", 5);
      }
      return;
    case Json::value_t::number_integer:
      AppendInteger(out, j.get<Json::number_integer_t>());
      return;
    case Json::value_t::number_unsigned:
      AppendInteger(out, j.get<Json::number_unsigned_t>());
      return;
    case Json::value_t::null:
      out.append("null", 4);
      return;
    case Json::value_t::number_float:
    case Json::value_t::binary:
    case Json::value_t::discarded:
    default:
      out += j.dump(-1, ' ', false, Json::error_handler_t::replace);
      return;
  }
}

std::string DumpJson(const Json& j) {
  std::string out;
  AppendJson(out, j);
  return out;
}

int JsonNestingDepth(std::string_view text) {
  int depth = 0, max_depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) max_depth = depth;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return max_depth;
}

}  // namespace assistant
