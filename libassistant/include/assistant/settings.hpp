// File: assistant/settings.hpp
//
// The policy every embedding applies to Options, stated once: the reference
// server, the C ABI's assistant_open and any program calling Assistant::Open
// get the same checks, the same development secret and the same file
// locations from here.
//
//   - Production (Options::production): a JWT secret of at least
//     kMinProductionSecretBytes is required, Argon2id costs below
//     kMinArgon2MemoryKib / kMinArgon2Iterations are refused, and EdDSA needs
//     a place to keep its keys (auth.jwt_key_dir or Options::state_dir).
//     Refusals are FailedPrecondition, reason "weak_secret".
//   - Development without a secret: one is made (32 random bytes as 64 hex
//     digits, mode 0600) at StatePaths::jwt_secret, or held in memory when
//     there is no such path (an in-memory database).
//   - Files that belong with the data (secret, EdDSA keys, identity key,
//     mail outbox) live in Options::state_dir when it is set; otherwise
//     beside the SQLite file as `<db>.jwt-secret`, `<db>.jwt-keys`,
//     `<db>.identity-keys`, `<db>.outbox.jsonl`; for PostgreSQL in the
//     working directory with the prefix `assistant.`. An in-memory database
//     keeps secret and keys in memory and never names a file after its URL.
//     The EdDSA and identity keys themselves live in storage, sealed with
//     the secret; the key directories are only read once, to import keys of
//     an earlier version into storage that holds none (AuthOptions).
//
// Thread safety: every function here is safe to call from any thread;
// LoadOrCreateSecretFile is safe against other processes creating the same
// file at the same time.
#ifndef ASSISTANT_SETTINGS_HPP_
#define ASSISTANT_SETTINGS_HPP_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "assistant/options.hpp"
#include "assistant/status.hpp"

namespace assistant {

inline constexpr size_t kMinProductionSecretBytes = 32;
// OWASP's minimum for Argon2id, the defaults of PasswordHashOptions.
inline constexpr uint32_t kMinArgon2MemoryKib = 19 * 1024;
inline constexpr uint32_t kMinArgon2Iterations = 2;

// Every provider name (ProviderKind, options.hpp), then every JWT algorithm name, joined by `separator`
// (for help texts and messages).
std::string ProviderKindNames(std::string_view separator);
std::string JwtAlgorithmNames(std::string_view separator);

// Where the files that belong with the data go; "" = kept in memory.
struct StatePaths {
  std::string jwt_secret;
  std::string jwt_key_dir;
  std::string identity_key_dir;
  std::string outbox;
};
// Derived from Options::state_dir and database_url as the header comment
// says. Errors: ParseDatabaseUrl's. No side effect.
Result<StatePaths> StatePathsFor(const Options& options);

// Checks `options` against the policy without touching any file but a
// named secret file (read, never written). InvalidArgument for a bad
// database URL, provider or setting; FailedPrecondition "weak_secret" for
// what production refuses.
Status CheckOptions(const Options& options);

struct ResolvedOptions {
  Options options;
  // What was decided on the caller's behalf, to log (never a secret).
  std::vector<std::string> notes;
  // The JWT secret was made now (a development secret file created, or one
  // held in memory): tokens issued before under another secret fail.
  bool secret_created = false;
};
// CheckOptions, then fills what `options` leaves to the policy: the secret
// from auth.jwt_secret_file or the development secret (created only now,
// after every check passed), key directories and the outbox from
// StatePathsFor when empty, identity_key_dir = jwt_key_dir + "/identity"
// when only jwt_key_dir is given. Applying it twice changes nothing more.
Result<ResolvedOptions> ResolveOptions(const Options& options);

// A secret file's bytes with trailing whitespace removed.
// InvalidArgument (field "jwt_secret_file") when unreadable; FailedPrecondition
// ("weak_secret") when empty.
Result<std::string> ReadSecretFile(const std::string& path);

// The secret at `path`, created when absent: 32 random bytes written as 64
// hex digits and a newline, mode 0600, published complete (a temporary file
// linked into place), so two processes creating it at once both end up
// with the one that won. A file of exactly 32 bytes (the raw form earlier
// versions wrote for the refresh derivation key) is returned as is.
// `created` (may be null) tells whether this call made it. Tightens a
// looser mode to 0600, never loosens.
Result<std::string> LoadOrCreateSecretFile(const std::string& path, bool* created = nullptr);

}  // namespace assistant

#endif  // ASSISTANT_SETTINGS_HPP_
