#include "common/cursor.hpp"

#include <charconv>
#include <chrono>
#include <cstdint>
#include <string_view>

namespace assistant::cursor {
namespace {

// Payloads: "p1:<unix ms>:<id>" for keyset positions, "o1:<offset>" for
// ranked results. The version tag lets the format change without breaking
// cursors a client still holds from an older build: an unknown tag is just
// an invalid cursor.
constexpr std::string_view kPositionTag = "p1:";
constexpr std::string_view kOffsetTag = "o1:";
constexpr size_t kMaxCursorLength = 256;
constexpr int kMaxOffset = 1000000;

constexpr char kAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// Local base64url (no padding): cursors must not depend on the crypto layer.
std::string B64Encode(std::string_view in) {
  std::string out;
  size_t i = 0;
  while (i + 3 <= in.size()) {
    uint32_t v = (static_cast<unsigned char>(in[i]) << 16) |
                 (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
    i += 3;
  }
  const size_t rest = in.size() - i;
  if (rest == 1) {
    uint32_t v = static_cast<unsigned char>(in[i]) << 16;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
  } else if (rest == 2) {
    uint32_t v = (static_cast<unsigned char>(in[i]) << 16) |
                 (static_cast<unsigned char>(in[i + 1]) << 8);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
  }
  return out;
}

int Sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

bool B64Decode(std::string_view in, std::string* out) {
  if (in.size() % 4 == 1) return false;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = Sextet(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  // Leftover bits must be zero, so each payload has exactly one spelling.
  return (acc & ((1u << bits) - 1)) == 0;
}

Status Invalid() {
  return InvalidArgumentError("cursor is not valid", "cursor", "invalid_cursor");
}

bool IsIdChar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         c == '-' || c == '_';
}

template <typename T>
bool ParseInt(std::string_view s, T* out) {
  if (s.empty() || s.size() > 19) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

Result<std::string> Unwrap(const std::string& cursor) {
  if (cursor.empty() || cursor.size() > kMaxCursorLength) return Invalid();
  std::string payload;
  if (!B64Decode(cursor, &payload)) return Invalid();
  return payload;
}

}  // namespace

std::string Encode(const PagePosition& position) {
  std::string payload(kPositionTag);
  payload += std::to_string(ToUnixMillis(position.time));
  payload += ':';
  payload += position.id;
  return B64Encode(payload);
}

namespace {
// A time the clock can hold (it counts nanoseconds in 64 bits): a cursor
// from outside may name any number, and a larger one overflows the
// conversion (found by tests/fuzz).
bool FitsClock(int64_t ms) {
  constexpr int64_t kMax =
      std::chrono::duration_cast<std::chrono::milliseconds>(Timestamp::duration::max()).count();
  return ms >= -kMax && ms <= kMax;
}
}  // namespace

Result<PagePosition> Decode(const std::string& cursor) {
  ASSISTANT_ASSIGN_OR_RETURN(std::string payload, Unwrap(cursor));
  std::string_view p(payload);
  if (p.substr(0, kPositionTag.size()) != kPositionTag) return Invalid();
  p.remove_prefix(kPositionTag.size());
  const size_t colon = p.find(':');
  if (colon == std::string_view::npos) return Invalid();
  int64_t ms = 0;
  if (!ParseInt(p.substr(0, colon), &ms) || !FitsClock(ms)) return Invalid();
  std::string_view id = p.substr(colon + 1);
  if (id.empty() || id.size() > 64) return Invalid();
  for (char c : id) {
    if (!IsIdChar(c)) return Invalid();
  }
  PagePosition pos;
  pos.time = FromUnixMillis(ms);
  pos.id = std::string(id);
  return pos;
}

std::string EncodeOffset(int offset) {
  return B64Encode(std::string(kOffsetTag) + std::to_string(offset < 0 ? 0 : offset));
}

Result<int> DecodeOffset(const std::string& cursor) {
  ASSISTANT_ASSIGN_OR_RETURN(std::string payload, Unwrap(cursor));
  std::string_view p(payload);
  if (p.substr(0, kOffsetTag.size()) != kOffsetTag) return Invalid();
  p.remove_prefix(kOffsetTag.size());
  int offset = 0;
  if (p.size() > 7 || !ParseInt(p, &offset) || offset > kMaxOffset) return Invalid();
  return offset;
}

int ClampLimit(int limit) {
  if (limit <= 0) return 50;
  if (limit > 200) return 200;
  return limit;
}

}  // namespace assistant::cursor
