#include "assistant/types.hpp"

#include "common/time_text.hpp"

#include <openssl/rand.h>
#include <pthread.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <random>

namespace assistant {

int64_t ToUnixMillis(Timestamp t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

Timestamp FromUnixMillis(int64_t ms) {
  return Timestamp(std::chrono::duration_cast<Timestamp::duration>(std::chrono::milliseconds(ms)));
}

namespace {

// Year, month, day of a count of days since 1970-01-01 (proleptic Gregorian;
// H. Hinnant's civil_from_days).
void CivilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0);
}

void PutDigits(char* at, unsigned value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    at[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

}  // namespace

void AppendFormattedTime(std::string& out, Timestamp t) {
  const int64_t ms = ToUnixMillis(t);
  const int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  const int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  const auto sod = static_cast<unsigned>(secs - days * 86400);
  int64_t year;
  unsigned month, day;
  CivilFromDays(days, year, month, day);
  const auto millis = static_cast<unsigned>(ms - secs * 1000);
  // Rendered by hand: every task and message carries these, and snprintf
  // with gmtime_r was ~0.5 µs each (a 20-task listing renders 60). A
  // Timestamp (64-bit nanoseconds) spans 1677-2262: four year digits.
  char buf[24] = {'0', '0', '0', '0', '-', '0', '0', '-', '0', '0', 'T', '0',
                  '0', ':', '0', '0', ':', '0', '0', '.', '0', '0', '0', 'Z'};
  PutDigits(&buf[0], static_cast<unsigned>(year), 4);
  PutDigits(&buf[5], month, 2);
  PutDigits(&buf[8], day, 2);
  PutDigits(&buf[11], sod / 3600, 2);
  PutDigits(&buf[14], sod / 60 % 60, 2);
  PutDigits(&buf[17], sod % 60, 2);
  PutDigits(&buf[20], millis, 3);
  out.append(buf, sizeof buf);
}

std::string FormatTime(Timestamp t) {
  std::string out;
  out.reserve(24);
  AppendFormattedTime(out, t);
  return out;
}

namespace {

bool ParseDigits(const std::string& s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

}  // namespace

std::optional<Timestamp> ParseTime(const std::string& s) {
  // YYYY-MM-DDTHH:MM:SS[.fff...](Z|+HH:MM|-HH:MM)
  int year, mon, day, hour, min, sec;
  if (!ParseDigits(s, 0, 4, year) || s.size() < 20 || s[4] != '-' ||
      !ParseDigits(s, 5, 2, mon) || s[7] != '-' || !ParseDigits(s, 8, 2, day) ||
      (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !ParseDigits(s, 11, 2, hour) ||
      s[13] != ':' || !ParseDigits(s, 14, 2, min) || s[16] != ':' ||
      !ParseDigits(s, 17, 2, sec)) {
    return std::nullopt;
  }
  static const int kDaysInMonth[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (mon < 1 || mon > 12 || day < 1 || day > kDaysInMonth[mon - 1] || hour > 23 ||
      min > 59 || sec > 60) {
    return std::nullopt;
  }
  // Timestamp counts nanoseconds in 64 bits (1677-09-21 to 2262-04-11 UTC):
  // a year outside 1678..2261 would overflow into a wrong date, so it is
  // refused (an offset cannot push a date in range out of it).
  if (year < kMinTimeYear || year > kMaxTimeYear) return std::nullopt;
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (mon == 2 && day == 29 && !leap) return std::nullopt;
  size_t pos = 19;
  int64_t millis = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t start = pos;
    int digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 3) millis = millis * 10 + (s[pos] - '0');
      ++digits;
      ++pos;
    }
    if (pos == start) return std::nullopt;
    for (; digits < 3; ++digits) millis *= 10;
  }
  int64_t offset_min = 0;
  if (pos >= s.size()) return std::nullopt;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    int oh, om;
    if (!ParseDigits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !ParseDigits(s, pos + 4, 2, om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_min = (oh * 60 + om) * (s[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  if (sec == 60) sec = 59;  // leap second: clamp
  int64_t days = DaysFromCivil(year, static_cast<unsigned>(mon), static_cast<unsigned>(day));
  int64_t secs = days * 86400 + hour * 3600 + min * 60 + sec - offset_min * 60;
  return FromUnixMillis(secs * 1000 + millis);
}

namespace {

// Bumped in a forked child: a thread's pool of random bytes was filled
// before the fork would otherwise hand the child the same bytes as the
// parent, and the two processes the same ids.
std::atomic<uint64_t> g_fork_generation{0};

void OnForkInChild() { g_fork_generation.fetch_add(1, std::memory_order_relaxed); }

// Random bytes for ids, taken from a per-thread pool that RAND_bytes fills
// 256 bytes at a time. Why: RAND_bytes locks its DRBG and checks for a fork
// with getpid() on every call, and a turn makes five ids.
void TakeRandom(unsigned char* out, size_t n) {
  struct Pool {
    unsigned char bytes[256];
    size_t used = sizeof bytes;
    uint64_t generation = 0;
  };
  static std::once_flag registered;
  std::call_once(registered, [] { pthread_atfork(nullptr, nullptr, OnForkInChild); });
  thread_local Pool pool;
  const uint64_t generation = g_fork_generation.load(std::memory_order_relaxed);
  if (pool.used + n > sizeof pool.bytes || pool.generation != generation) {
    if (RAND_bytes(pool.bytes, sizeof pool.bytes) != 1) {
      // No DRBG: ids stay unique within the process by (ms, counter); the
      // OS's entropy keeps them apart from other processes.
      std::random_device device;
      for (unsigned char& b : pool.bytes) b = static_cast<unsigned char>(device());
    }
    pool.used = 0;
    pool.generation = generation;
  }
  std::memcpy(out, pool.bytes + pool.used, n);
  pool.used += n;
}

}  // namespace

std::string NewId() {
  // UUIDv7: 48-bit ms timestamp, then 74 random bits. Within one process the
  // (ms, counter) pair only grows, so ids sort in creation order.
  static std::mutex mu;
  static int64_t last_ms = 0;
  static uint64_t counter = 0;  // 12 bits in rand_a, continued into rand_b
  int64_t ms = ToUnixMillis(std::chrono::system_clock::now());
  uint64_t seq;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (ms <= last_ms) {
      ms = last_ms;
      ++counter;
      if (counter >= (1u << 12)) {  // counter overflow: borrow the next millisecond
        ++ms;
        counter = 0;
      }
    } else {
      counter = 0;
    }
    last_ms = ms;
    seq = counter;
  }
  unsigned char rnd[8];
  TakeRandom(rnd, sizeof rnd);
  unsigned char b[16];
  for (int i = 0; i < 6; ++i) b[i] = static_cast<unsigned char>(ms >> (8 * (5 - i)));
  b[6] = static_cast<unsigned char>(0x70 | ((seq >> 8) & 0x0F));
  b[7] = static_cast<unsigned char>(seq & 0xFF);
  b[8] = static_cast<unsigned char>(0x80 | (rnd[0] & 0x3F));
  for (int i = 9; i < 16; ++i) b[i] = rnd[i - 8];
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 0xF]);
  }
  return out;
}

}  // namespace assistant
