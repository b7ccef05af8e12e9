#include "crypto/password_hasher.hpp"

#include <argon2.h>
#include <crypt.h>
#include <openssl/crypto.h>

#include <cstdio>
#include <future>

#include "common/text.hpp"
#include "crypto/crypto_util.hpp"

namespace assistant::crypto {

namespace {

constexpr size_t kSaltBytes = 16;
constexpr size_t kHashBytes = 32;
constexpr size_t kMinPasswordChars = 8;
constexpr size_t kMaxPasswordChars = 1024;

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool IsBcrypt(std::string_view h) {
  return StartsWith(h, "$2a$") || StartsWith(h, "$2b$") || StartsWith(h, "$2y$");
}

struct Argon2Params {
  uint32_t version = 0, m = 0, t = 0, p = 0;
};

// Reads "$argon2id$v=19$m=19456,t=2,p=1$..." ; nullopt when malformed.
std::optional<Argon2Params> ParseArgon2id(std::string_view h) {
  if (!StartsWith(h, "$argon2id$")) return std::nullopt;
  Argon2Params p;
  unsigned v = 0, m = 0, t = 0, par = 0;
  std::string s(h);
  int consumed = 0;
  if (std::sscanf(s.c_str(), "$argon2id$v=%u$m=%u,t=%u,p=%u$%n", &v, &m, &t, &par, &consumed) != 4 ||
      consumed == 0) {
    return std::nullopt;
  }
  p.version = v;
  p.m = m;
  p.t = t;
  p.p = par;
  return p;
}

// Wipes a copy of a password when it goes out of scope.
struct Wiped {
  std::string s;
  ~Wiped() { OPENSSL_cleanse(s.data(), s.size()); }
};

}  // namespace

Status ValidatePassword(std::string_view password) {
  // Check the byte size first: 1024 code points are at most 4096 bytes, and
  // a huge input should not be scanned.
  if (password.size() > kMaxPasswordChars * 4 || !text::IsValidUtf8(password)) {
    return InvalidArgumentError("password must be 8 to 1024 characters of valid text",
                                "password");
  }
  size_t n = text::CharCount(password);
  if (n < kMinPasswordChars || n > kMaxPasswordChars) {
    return InvalidArgumentError("password must be 8 to 1024 characters", "password");
  }
  return Status();
}

Result<std::unique_ptr<PasswordHasher>> PasswordHasher::Create(const PasswordHashOptions& options) {
  if (options.threads < 1) {
    return InvalidArgumentError("password hashing needs at least one thread", "password_hash.threads");
  }
  if (options.queue_limit < 0) {
    return InvalidArgumentError("queue_limit must not be negative", "password_hash.queue_limit");
  }
  if (options.iterations < ARGON2_MIN_TIME || options.parallelism < ARGON2_MIN_LANES ||
      options.parallelism > ARGON2_MAX_LANES ||
      options.memory_kib < 8 * options.parallelism || options.memory_kib > ARGON2_MAX_MEMORY) {
    return InvalidArgumentError("unusable Argon2id cost", "password_hash");
  }
  return std::unique_ptr<PasswordHasher>(new PasswordHasher(options));
}

PasswordHasher::PasswordHasher(const PasswordHashOptions& options) : options_(options) {
  workers_.reserve(static_cast<size_t>(options_.threads));
  for (int i = 0; i < options_.threads; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

PasswordHasher::~PasswordHasher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void PasswordHasher::WorkerLoop() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      // Queued jobs still run when stopping: someone is waiting on each.
      if (queue_.empty()) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    job();
  }
}

Status PasswordHasher::Run(std::function<void()> job) {
  std::promise<void> done;
  std::future<void> finished = done.get_future();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return UnavailableError("password hashing is shutting down");
    // Running plus waiting jobs: every thread busy and `queue_limit` waiting
    // is the most we accept.
    if (in_flight_ >= static_cast<size_t>(options_.threads) +
                          static_cast<size_t>(options_.queue_limit)) {
      return ResourceExhaustedError("too many password checks in progress; retry shortly", "busy");
    }
    ++in_flight_;
    queue_.push_back([this, &job, &done] {
      job();
      {
        std::lock_guard<std::mutex> done_lock(mu_);
        --in_flight_;
      }
      done.set_value();
    });
  }
  cv_.notify_one();
  finished.wait();
  return Status();
}

Result<std::string> PasswordHasher::Hash(std::string_view password) {
  Wiped pw{std::string(password)};
  std::string salt = RandomBytes(kSaltBytes);
  size_t len = argon2_encodedlen(options_.iterations, options_.memory_kib, options_.parallelism,
                                 kSaltBytes, kHashBytes, Argon2_id);
  std::string encoded(len, '\0');
  int rc = ARGON2_OK;
  ASSISTANT_RETURN_IF_ERROR(Run([&] {
    rc = argon2id_hash_encoded(options_.iterations, options_.memory_kib, options_.parallelism,
                               pw.s.data(), pw.s.size(), salt.data(), salt.size(), kHashBytes,
                               encoded.data(), encoded.size());
  }));
  if (rc != ARGON2_OK) {
    return InternalError(std::string("password hashing failed: ") + argon2_error_message(rc));
  }
  encoded.resize(std::char_traits<char>::length(encoded.c_str()));
  return encoded;
}

Result<bool> PasswordHasher::Verify(std::string_view password, const std::string& encoded) {
  Wiped pw{std::string(password)};
  if (ParseArgon2id(encoded)) {
    int rc = ARGON2_OK;
    ASSISTANT_RETURN_IF_ERROR(
        Run([&] { rc = argon2id_verify(encoded.c_str(), pw.s.data(), pw.s.size()); }));
    return rc == ARGON2_OK;
  }
  if (IsBcrypt(encoded)) {
    // crypt() reads a C string: a password with a NUL byte would be cut short.
    if (pw.s.find('\0') != std::string::npos) return false;
    bool match = false;
    ASSISTANT_RETURN_IF_ERROR(Run([&] {
      // struct crypt_data is ~32 KiB: on the heap, not on a worker's stack.
      auto data = std::make_unique<crypt_data>();
      const char* out = crypt_rn(pw.s.c_str(), encoded.c_str(), data.get(), sizeof(crypt_data));
      match = out != nullptr && out[0] != '*' && ConstantTimeEquals(out, encoded);
      OPENSSL_cleanse(data.get(), sizeof(crypt_data));
    }));
    return match;
  }
  return false;
}

bool PasswordHasher::NeedsRehash(const std::string& encoded) const {
  auto p = ParseArgon2id(encoded);
  if (!p) return true;
  return p->version != ARGON2_VERSION_13 || p->m < options_.memory_kib ||
         p->t < options_.iterations || p->p < options_.parallelism;
}

}  // namespace assistant::crypto
