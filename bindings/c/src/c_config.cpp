#include "c_config.hpp"

#include <string>

namespace assistant::capi {
namespace {

Status Bad(const std::string& key, const std::string& why) {
  return Status(StatusCode::kInvalidArgument, "setting \"" + key + "\" " + why, "invalid_config",
                key);
}

Result<std::string> Text(const Json& v, const std::string& key) {
  if (!v.is_string()) return Bad(key, "must be a string");
  return v.get<std::string>();
}

Result<int64_t> Int(const Json& v, const std::string& key, int64_t lo, int64_t hi) {
  if (!v.is_number_integer()) return Bad(key, "must be an integer");
  const int64_t n = v.get<int64_t>();
  if (n < lo || n > hi) {
    return Bad(key, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  }
  return n;
}

}  // namespace

Result<Options> OptionsFromConfig(const Json& config) {
  Options o;
  for (const auto& [key, v] : config.items()) {
    if (key == "database") {
      ASSISTANT_ASSIGN_OR_RETURN(o.database_url, Text(v, key));
    } else if (key == "llm_provider") {
      ASSISTANT_ASSIGN_OR_RETURN(std::string name, Text(v, key));
      ASSISTANT_ASSIGN_OR_RETURN(o.agent.provider, ParseProviderKind(name));
    } else if (key == "llm_base_url") {
      ASSISTANT_ASSIGN_OR_RETURN(o.agent.base_url, Text(v, key));
    } else if (key == "llm_model") {
      ASSISTANT_ASSIGN_OR_RETURN(o.agent.model, Text(v, key));
    } else if (key == "llm_api_key") {
      ASSISTANT_ASSIGN_OR_RETURN(o.agent.api_key, Text(v, key));
    } else if (key == "llm_timeout") {
      ASSISTANT_ASSIGN_OR_RETURN(auto s, Int(v, key, 1, 3600));
      o.agent.llm_timeout = std::chrono::seconds(s);
    } else if (key == "jwt_secret_file") {
      ASSISTANT_ASSIGN_OR_RETURN(o.auth.jwt_secret_file, Text(v, key));
    } else if (key == "state_dir") {
      ASSISTANT_ASSIGN_OR_RETURN(o.state_dir, Text(v, key));
    } else if (key == "outbox") {
      ASSISTANT_ASSIGN_OR_RETURN(o.outbox_path, Text(v, key));
    } else if (key == "argon2_memory_kib") {
      ASSISTANT_ASSIGN_OR_RETURN(auto n, Int(v, key, 8, 4 * 1024 * 1024));
      o.auth.password_hash.memory_kib = static_cast<uint32_t>(n);
    } else if (key == "argon2_iterations") {
      ASSISTANT_ASSIGN_OR_RETURN(auto n, Int(v, key, 1, 100));
      o.auth.password_hash.iterations = static_cast<uint32_t>(n);
    } else if (key == "refresh_grace") {
      ASSISTANT_ASSIGN_OR_RETURN(auto n, Int(v, key, 0, 3600));
      o.auth.refresh_grace = std::chrono::seconds(n);
    } else if (key == "run_retention") {
      ASSISTANT_ASSIGN_OR_RETURN(auto n, Int(v, key, 1, 30 * 24 * 3600));
      o.runs.retention = std::chrono::seconds(n);
    } else if (key == "production") {
      if (!v.is_boolean()) return Bad(key, "must be true or false");
      o.production = v.get<bool>();
    } else {
      return Bad(key, "is not a setting (docs/c-api.md lists them)");
    }
  }
  // The secret, where files live and what production refuses are the
  // core's policy (assistant/settings.hpp), applied by Assistant::Open.
  return o;
}

}  // namespace assistant::capi
