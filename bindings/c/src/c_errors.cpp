#include "c_errors.hpp"

#include "common/error_table.hpp"

// The handle is struct assistant_s here: `assistant` is the core's namespace.
#define ASSISTANT_H_NO_HANDLE_TYPEDEF
#include "assistant.h"

namespace assistant::capi {
namespace {

// The codes live in the core's one error table (common/error_table.hpp);
// assistant.h's numbers are frozen, so the build fails if the two differ.
static_assert(errors::FindReason("internal_error")->c_code == ASSISTANT_ERR_INTERNAL);
static_assert(errors::FindReason("malformed_request")->c_code == ASSISTANT_ERR_MALFORMED_REQUEST);
static_assert(errors::FindReason("invalid_field")->c_code == ASSISTANT_ERR_INVALID_ARGUMENT);
static_assert(errors::FindReason("invalid_argument")->c_code == ASSISTANT_ERR_INVALID_ARGUMENT);
static_assert(errors::FindReason("missing_field")->c_code == ASSISTANT_ERR_MISSING_FIELD);
static_assert(errors::FindReason("not_found")->c_code == ASSISTANT_ERR_NOT_FOUND);
static_assert(errors::FindReason("unknown_method")->c_code == ASSISTANT_ERR_UNKNOWN_METHOD);
static_assert(errors::FindReason("unknown_user")->c_code == ASSISTANT_ERR_UNKNOWN_USER);
static_assert(errors::FindReason("unauthenticated")->c_code == ASSISTANT_ERR_UNAUTHENTICATED);
static_assert(errors::FindReason("missing_principal")->c_code == ASSISTANT_ERR_MISSING_PRINCIPAL);
static_assert(errors::FindReason("invalid_token")->c_code == ASSISTANT_ERR_INVALID_TOKEN);
static_assert(errors::FindReason("invalid_credentials")->c_code == ASSISTANT_ERR_INVALID_CREDENTIALS);
static_assert(errors::FindReason("refresh_token_reused")->c_code == ASSISTANT_ERR_REFRESH_TOKEN_REUSED);
static_assert(errors::FindReason("insufficient_scope")->c_code == ASSISTANT_ERR_INSUFFICIENT_SCOPE);
static_assert(errors::FindReason("permission_denied")->c_code == ASSISTANT_ERR_PERMISSION_DENIED);
static_assert(errors::FindReason("email_taken")->c_code == ASSISTANT_ERR_EMAIL_TAKEN);
static_assert(errors::FindReason("conflict")->c_code == ASSISTANT_ERR_CONFLICT);
static_assert(errors::FindReason("already_exists")->c_code == ASSISTANT_ERR_CONFLICT);
static_assert(errors::FindReason("not_a_session")->c_code == ASSISTANT_ERR_NOT_A_SESSION);
static_assert(errors::FindReason("failed_precondition")->c_code == ASSISTANT_ERR_FAILED_PRECONDITION);
static_assert(errors::FindReason("rate_limited")->c_code == ASSISTANT_ERR_RATE_LIMITED);
static_assert(errors::FindReason("busy")->c_code == ASSISTANT_ERR_BUSY);
static_assert(errors::FindReason("too_large")->c_code == ASSISTANT_ERR_TOO_LARGE);
static_assert(errors::FindReason("payload_too_large")->c_code == ASSISTANT_ERR_TOO_LARGE);
static_assert(errors::FindReason("unavailable")->c_code == ASSISTANT_ERR_UNAVAILABLE);
static_assert(errors::FindReason("storage_full")->c_code == ASSISTANT_ERR_STORAGE_FULL);
static_assert(errors::FindReason("upstream_error")->c_code == ASSISTANT_ERR_UPSTREAM_ERROR);
static_assert(errors::FindReason("upstream_timeout")->c_code == ASSISTANT_ERR_UPSTREAM_TIMEOUT);
static_assert(errors::FindReason("cancelled")->c_code == ASSISTANT_ERR_CANCELLED);
static_assert(errors::FindReason("turn_timeout")->c_code == ASSISTANT_ERR_TURN_TIMEOUT);
static_assert(errors::FindReason("invalid_config")->c_code == ASSISTANT_ERR_INVALID_CONFIG);
static_assert(errors::FindReason("not_streamable")->c_code == ASSISTANT_ERR_NOT_STREAMABLE);
static_assert(errors::FindReason("invalid_cursor")->c_code == ASSISTANT_ERR_INVALID_CURSOR);
static_assert(errors::FindReason("ambiguous_task")->c_code == ASSISTANT_ERR_AMBIGUOUS_TASK);
static_assert(errors::FindReason("already_verified")->c_code == ASSISTANT_ERR_ALREADY_VERIFIED);
static_assert(errors::FindReason("schema_too_new")->c_code == ASSISTANT_ERR_SCHEMA_TOO_NEW);
static_assert(errors::FindReason("weak_secret")->c_code == ASSISTANT_ERR_WEAK_SECRET);
static_assert(errors::FindReason("tool_exists")->c_code == ASSISTANT_ERR_TOOL_EXISTS);
static_assert(errors::FindReason("unknown_tool")->c_code == ASSISTANT_ERR_UNKNOWN_TOOL);
static_assert(errors::FindReason("run_abandoned")->c_code == ASSISTANT_ERR_RUN_ABANDONED);
static_assert(errors::FindReason("backend_unavailable")->c_code == ASSISTANT_ERR_BACKEND_UNAVAILABLE);
static_assert(errors::FindReason("invalid_database_url")->c_code == ASSISTANT_ERR_INVALID_DATABASE_URL);
static_assert(errors::FindReason("deadline_exceeded")->c_code == ASSISTANT_ERR_DEADLINE_EXCEEDED);
static_assert(errors::FindReason("data_loss")->c_code == ASSISTANT_ERR_DATA_LOSS);
static_assert(errors::FindReason("unimplemented")->c_code == ASSISTANT_ERR_UNIMPLEMENTED);
static_assert(errors::FindReason("out_of_range")->c_code == ASSISTANT_ERR_OUT_OF_RANGE);
static_assert(ASSISTANT_OK == 0);

}  // namespace

int ErrorCodeFor(const Status& status) { return errors::CErrorCodeFor(status); }

const char* ErrorCodeName(int code) { return errors::CErrorCodeName(code); }

int LastErrorCode() { return errors::LastCErrorCode(); }

}  // namespace assistant::capi
