// The policy of assistant/settings.hpp: checks, the development secret and
// the locations of the files that belong with the data.
#include "assistant/settings.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/settings_internal.hpp"
#include "crypto/crypto_util.hpp"

namespace assistant {
namespace {

constexpr const char* kProviderNames[] = {"rules", "openai", "ollama", "cohere"};
constexpr ProviderKind kProviderKinds[] = {ProviderKind::kRules, ProviderKind::kOpenAi,
                                           ProviderKind::kOllama, ProviderKind::kCohere};
constexpr size_t kSecretBytes = 32;

Status Weak(const std::string& why, const std::string& field) {
  return Status(StatusCode::kFailedPrecondition, why, "weak_secret", field);
}

std::string TrimTrailingSpace(std::string s) {
  while (!s.empty() && std::strchr(" \t\r\n\v\f", s.back()) != nullptr) s.pop_back();
  return s;
}

std::string Hex(const std::string& raw) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : raw) {
    out += kDigits[b >> 4];
    out += kDigits[b & 0xF];
  }
  return out;
}

Result<std::string> ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return InvalidArgumentError("cannot read the secret file " + path, "jwt_secret_file");
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// mkdir -p, each new level 0700: the state directory holds secrets.
Status MakeDirs(const std::string& dir) {
  for (size_t i = 1; i <= dir.size(); ++i) {
    if (i != dir.size() && dir[i] != '/') continue;
    const std::string part = dir.substr(0, i);
    if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) {
      return InvalidArgumentError("cannot create " + part + ": " + std::strerror(errno),
                                  "state_dir");
    }
  }
  return Status();
}

}  // namespace

const char* ProviderKindName(ProviderKind kind) {
  return kProviderNames[static_cast<int>(kind)];
}

Result<ProviderKind> ParseProviderKind(std::string_view name) {
  if (name.empty()) return ProviderKind::kRules;
  for (size_t i = 0; i < std::size(kProviderNames); ++i) {
    if (name == kProviderNames[i]) return kProviderKinds[i];
  }
  return InvalidArgumentError("unknown LLM provider \"" + std::string(name) + "\" (expected " +
                                  ProviderKindNames(", ") + ")",
                              "provider");
}

std::string ProviderKindNames(std::string_view separator) {
  std::string out;
  for (const char* n : kProviderNames) {
    if (!out.empty()) out += separator;
    out += n;
  }
  return out;
}

std::string JwtAlgorithmNames(std::string_view separator) {
  return std::string(JwtAlgorithmName(JwtAlgorithm::kHS256)) + std::string(separator) +
         JwtAlgorithmName(JwtAlgorithm::kEdDSA);
}

Result<StatePaths> StatePathsFor(const Options& options) {
  return internal::StatePathsFor(options, /*beside_database=*/true);
}

namespace internal {

Result<StatePaths> StatePathsFor(const Options& options, bool beside_database) {
  ASSISTANT_ASSIGN_OR_RETURN(DatabaseUrl db, ParseDatabaseUrl(options.database_url));
  StatePaths p;
  if (!options.state_dir.empty()) {
    const std::string dir = options.state_dir.back() == '/' ? options.state_dir
                                                            : options.state_dir + "/";
    p.jwt_secret = dir + "jwt-secret";
    p.jwt_key_dir = dir + "jwt-keys";
    p.identity_key_dir = dir + "identity-keys";
    p.outbox = dir + "outbox.jsonl";
    return p;
  }
  if (db.in_memory || !beside_database) {
    // Nothing outlives the database, so neither need its secret and keys;
    // mail still goes where a developer can read it.
    p.outbox = "assistant.outbox.jsonl";
    return p;
  }
  const std::string base = !db.path.empty() ? db.path : "assistant";
  p.jwt_secret = base + ".jwt-secret";
  p.jwt_key_dir = base + ".jwt-keys";
  p.identity_key_dir = base + ".identity-keys";
  p.outbox = base + ".outbox.jsonl";
  return p;
}

}  // namespace internal

Status CheckOptions(const Options& options) {
  ASSISTANT_RETURN_IF_ERROR(ParseDatabaseUrl(options.database_url).status());
  if (options.checkpoint_interval.count() < 0) {
    return InvalidArgumentError("checkpoint_interval must not be negative",
                                "checkpoint_interval");
  }
  if (!options.production) return Status();
  std::string secret = options.auth.jwt_secret;
  if (secret.empty() && !options.auth.jwt_secret_file.empty()) {
    ASSISTANT_ASSIGN_OR_RETURN(secret, ReadSecretFile(options.auth.jwt_secret_file));
  }
  if (secret.empty()) {
    return Weak("production needs a JWT secret file of at least " +
                    std::to_string(kMinProductionSecretBytes) + " random bytes",
                "jwt_secret_file");
  }
  if (secret.size() < kMinProductionSecretBytes) {
    return Weak("production wants a JWT secret of at least " +
                    std::to_string(kMinProductionSecretBytes) + " bytes",
                "jwt_secret_file");
  }
  if (options.auth.jwt_algorithm == JwtAlgorithm::kEdDSA && options.auth.jwt_key_dir.empty() &&
      options.state_dir.empty()) {
    return Weak("production with EdDSA needs a key directory (jwt_key_dir or state_dir)",
                "jwt_key_dir");
  }
  const PasswordHashOptions& h = options.auth.password_hash;
  if (h.memory_kib < kMinArgon2MemoryKib || h.iterations < kMinArgon2Iterations) {
    return Weak("production refuses an Argon2id cost below m=" +
                    std::to_string(kMinArgon2MemoryKib) +
                    " KiB, t=" + std::to_string(kMinArgon2Iterations),
                "argon2");
  }
  return Status();
}

Result<ResolvedOptions> ResolveOptions(const Options& options) {
  return internal::ResolveOptions(options, /*beside_database=*/true);
}

Result<ResolvedOptions> internal::ResolveOptions(const Options& options, bool beside_database) {
  ASSISTANT_RETURN_IF_ERROR(CheckOptions(options));
  ASSISTANT_ASSIGN_OR_RETURN(StatePaths paths, internal::StatePathsFor(options, beside_database));
  ResolvedOptions out;
  Options& o = out.options;
  o = options;
  AuthOptions& auth = o.auth;
  const bool key_dir_given = !auth.jwt_key_dir.empty();
  // Everything was checked: from here on files may be written.
  if (!o.state_dir.empty()) ASSISTANT_RETURN_IF_ERROR(MakeDirs(o.state_dir));
  if (auth.jwt_secret.empty() && !auth.jwt_secret_file.empty()) {
    ASSISTANT_ASSIGN_OR_RETURN(auth.jwt_secret, ReadSecretFile(auth.jwt_secret_file));
  } else if (auth.jwt_secret.empty() && paths.jwt_secret.empty()) {
    auth.jwt_secret = crypto::RandomBytes(kSecretBytes);
    out.secret_created = true;
    out.notes.push_back("development: generated an in-memory JWT secret");
  } else if (auth.jwt_secret.empty()) {
    bool created = false;
    ASSISTANT_ASSIGN_OR_RETURN(auth.jwt_secret,
                               LoadOrCreateSecretFile(paths.jwt_secret, &created));
    out.secret_created = created;
    out.notes.push_back(std::string("development: ") +
                        (created ? "generated a JWT secret in " : "using the JWT secret in ") +
                        paths.jwt_secret + " (mode 0600); give a secret file in production");
  }
  if (auth.jwt_algorithm == JwtAlgorithm::kEdDSA && auth.jwt_key_dir.empty() &&
      !paths.jwt_key_dir.empty()) {
    auth.jwt_key_dir = paths.jwt_key_dir;
    out.notes.push_back("development: EdDSA keys in " + auth.jwt_key_dir);
  }
  // The identity key signs tokens for apps and is published in the JWKS,
  // so it is kept across restarts wherever there is somewhere to keep it.
  if (auth.identity_key_dir.empty()) {
    auth.identity_key_dir = key_dir_given ? auth.jwt_key_dir + "/identity"
                                          : paths.identity_key_dir;
  }
  if (o.outbox_path.empty() && !o.mailer) {
    o.outbox_path = paths.outbox;
    out.notes.push_back("mail outbox: " + o.outbox_path);
  }
  return out;
}

Result<std::string> ReadSecretFile(const std::string& path) {
  ASSISTANT_ASSIGN_OR_RETURN(std::string bytes, ReadWhole(path));
  std::string secret = TrimTrailingSpace(std::move(bytes));
  if (secret.empty()) return Weak("the secret file " + path + " is empty", "jwt_secret_file");
  return secret;
}

Result<std::string> LoadOrCreateSecretFile(const std::string& path, bool* created) {
  if (created != nullptr) *created = false;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if ((st.st_mode & 077) != 0) ::chmod(path.c_str(), 0600);  // tighten, never loosen
    ASSISTANT_ASSIGN_OR_RETURN(std::string bytes, ReadWhole(path));
    if (bytes.size() == kSecretBytes) return bytes;  // the earlier raw form
    std::string secret = TrimTrailingSpace(std::move(bytes));
    if (secret.empty()) return Weak("the secret file " + path + " is empty", "jwt_secret_file");
    return secret;
  }
  if (errno != ENOENT) {
    return InvalidArgumentError("cannot read " + path + ": " + std::strerror(errno),
                                "jwt_secret_file");
  }
  const std::string secret = Hex(crypto::RandomBytes(kSecretBytes));
  // Written whole under a name of this process's own, then linked into
  // place: link, unlike rename, fails when another creator got there first,
  // so every process ends up with the same secret and none reads a file
  // still being written.
  const std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." +
                          Hex(crypto::RandomBytes(4));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return InvalidArgumentError("cannot create " + tmp + ": " + std::strerror(errno),
                                "jwt_secret_file");
  }
  const std::string content = secret + "\n";
  bool ok = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
  ok = ::fsync(fd) == 0 && ok;
  ok = ::close(fd) == 0 && ok;
  if (!ok) {
    ::unlink(tmp.c_str());
    return InvalidArgumentError("cannot write " + tmp, "jwt_secret_file");
  }
  const int linked = ::link(tmp.c_str(), path.c_str());
  const int link_errno = errno;
  ::unlink(tmp.c_str());
  if (linked != 0) {
    if (link_errno == EEXIST) return LoadOrCreateSecretFile(path, nullptr);
    return InvalidArgumentError("cannot create " + path + ": " + std::strerror(link_errno),
                                "jwt_secret_file");
  }
  if (created != nullptr) *created = true;
  return secret;
}

}  // namespace assistant
