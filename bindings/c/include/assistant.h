/*
 * assistant.h: the C ABI of libassistant (docs/c-api.md).
 *
 * One embedded instance per handle, JSON in and out, so any language with a
 * C FFI binds it in a few lines. Every operation of the core is a method
 * called by name through assistant_call ("tasks.create", "agent.message",
 * ...); docs/c-api.md lists each method with its parameters, result and
 * errors. The caller names who acts in params.principal:
 *   {"principal": {"token": "<access token or API key>"}}  a user, with the
 *       credential's scopes, exactly as over HTTP;
 *   {"principal": {"user_id": "..."}}  the embedding program acting for a
 *       user it trusts, with every scope.
 *
 * Errors: every int-returning function returns 0 (ASSISTANT_OK) or one of
 * the ASSISTANT_ERR_* codes below, which are stable: a code is never
 * renumbered or reused, new ones are only added (as curl's CURLE_*). The
 * error JSON ({"error":{"code","message","field"?}}) carries the exact
 * reason string in "code"; the integer is the reason's entry in the table,
 * or the entry of its general kind for a reason the table does not list.
 *
 * Memory: every char* the library hands out is freed with assistant_free.
 * Threads: every function is safe to call from many threads on one handle;
 * assistant_close must not race with other calls on the same handle.
 * No C++ exception ever crosses this boundary.
 */
#ifndef ASSISTANT_H_
#define ASSISTANT_H_

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define ASSISTANT_API
#else
#define ASSISTANT_API __attribute__((visibility("default")))
#endif

/* One embedded instance. The struct's tag is assistant_s rather than
 * assistant so that C++ code, where `assistant` is the core library's
 * namespace, can include this header too: C++ code that also uses the
 * namespace defines ASSISTANT_H_NO_HANDLE_TYPEDEF and writes
 * `assistant_s *`. */
struct assistant_s;
#if !defined(__cplusplus) || !defined(ASSISTANT_H_NO_HANDLE_TYPEDEF)
typedef struct assistant_s assistant;
#endif

/* Error codes. Frozen: the values never change, new codes are appended. */
#define ASSISTANT_OK 0
#define ASSISTANT_ERR_INTERNAL 1              /* internal_error: a bug; see the message */
#define ASSISTANT_ERR_MALFORMED_REQUEST 2     /* malformed_request: JSON that cannot be read */
#define ASSISTANT_ERR_INVALID_ARGUMENT 3      /* invalid_field: a value, named in "field" */
#define ASSISTANT_ERR_MISSING_FIELD 4         /* missing_field */
#define ASSISTANT_ERR_NOT_FOUND 5             /* not_found: missing, or another user's */
#define ASSISTANT_ERR_UNKNOWN_METHOD 6        /* unknown_method */
#define ASSISTANT_ERR_UNKNOWN_USER 7          /* unknown_user: principal.user_id names no user */
#define ASSISTANT_ERR_UNAUTHENTICATED 8       /* unauthenticated */
#define ASSISTANT_ERR_MISSING_PRINCIPAL 9     /* missing_principal */
#define ASSISTANT_ERR_INVALID_TOKEN 10        /* invalid_token */
#define ASSISTANT_ERR_INVALID_CREDENTIALS 11  /* invalid_credentials */
#define ASSISTANT_ERR_REFRESH_TOKEN_REUSED 12 /* refresh_token_reused */
#define ASSISTANT_ERR_INSUFFICIENT_SCOPE 13   /* insufficient_scope */
#define ASSISTANT_ERR_PERMISSION_DENIED 14    /* permission_denied */
#define ASSISTANT_ERR_EMAIL_TAKEN 15          /* email_taken */
#define ASSISTANT_ERR_CONFLICT 16             /* conflict / already_exists */
#define ASSISTANT_ERR_NOT_A_SESSION 17        /* not_a_session */
#define ASSISTANT_ERR_FAILED_PRECONDITION 18  /* failed_precondition */
#define ASSISTANT_ERR_RATE_LIMITED 19         /* rate_limited */
#define ASSISTANT_ERR_BUSY 20                 /* busy: too much work in flight; retry */
#define ASSISTANT_ERR_TOO_LARGE 21            /* too_large / payload_too_large */
#define ASSISTANT_ERR_UNAVAILABLE 22          /* unavailable: storage unreachable */
#define ASSISTANT_ERR_STORAGE_FULL 23         /* storage_full */
#define ASSISTANT_ERR_UPSTREAM_ERROR 24       /* upstream_error: the LLM provider failed */
#define ASSISTANT_ERR_UPSTREAM_TIMEOUT 25     /* upstream_timeout */
#define ASSISTANT_ERR_CANCELLED 26            /* cancelled */
#define ASSISTANT_ERR_TURN_TIMEOUT 27         /* turn_timeout */
#define ASSISTANT_ERR_INVALID_CONFIG 28       /* invalid_config: a bad assistant_open setting */
#define ASSISTANT_ERR_NOT_STREAMABLE 29       /* not_streamable: use assistant_call */
#define ASSISTANT_ERR_INVALID_CURSOR 30       /* invalid_cursor */
#define ASSISTANT_ERR_AMBIGUOUS_TASK 31       /* ambiguous_task */
#define ASSISTANT_ERR_ALREADY_VERIFIED 32     /* already_verified */
#define ASSISTANT_ERR_SCHEMA_TOO_NEW 33       /* schema_too_new: the database is newer than this build */
#define ASSISTANT_ERR_WEAK_SECRET 34          /* weak_secret */
#define ASSISTANT_ERR_TOOL_EXISTS 35          /* tool_exists */
#define ASSISTANT_ERR_UNKNOWN_TOOL 36         /* unknown_tool */
#define ASSISTANT_ERR_RUN_ABANDONED 37        /* run_abandoned */
#define ASSISTANT_ERR_BACKEND_UNAVAILABLE 38  /* backend_unavailable: storage not built in */
#define ASSISTANT_ERR_INVALID_DATABASE_URL 39 /* invalid_database_url */
#define ASSISTANT_ERR_DEADLINE_EXCEEDED 40    /* deadline_exceeded */
#define ASSISTANT_ERR_DATA_LOSS 41            /* data_loss */
#define ASSISTANT_ERR_UNIMPLEMENTED 42        /* unimplemented */
#define ASSISTANT_ERR_OUT_OF_RANGE 43         /* out_of_range */

/* The library's version, e.g. "0.4.0". Static; never freed. */
ASSISTANT_API const char *assistant_version(void);

/* The reason string of an error code ("not_found"), "ok" for 0, or
 * "unknown" for a code this build does not know. Static; never freed. */
ASSISTANT_API const char *assistant_error_name(int code);

/* Opens an instance from settings (JSON object; docs/c-api.md "Settings":
 * database, llm_provider, llm_base_url, llm_model, llm_api_key,
 * jwt_secret_file, ...). On failure returns an error code, sets *out to
 * NULL and, when error_json is not NULL, *error_json to
 * {"error":{"code","message","field"?}} naming the bad setting (free it). */
ASSISTANT_API int assistant_open(const char *config_json, struct assistant_s **out, char **error_json);

/* Closes the instance: waits for calls in flight, stops its threads,
 * checkpoints the database. NULL is ignored. */
ASSISTANT_API void assistant_close(struct assistant_s *a);

/* Calls method `method` with params (a JSON object; NULL = {}). On success
 * returns 0 and *result_json holds the result; otherwise an error code and
 * *result_json holds {"error":{...}}. Free *result_json with assistant_free. */
ASSISTANT_API int assistant_call(struct assistant_s *a, const char *method, const char *params_json,
                                 char **result_json);

/* Receives one event: its name ("message.delta") and its data as JSON. The
 * strings live until the callback returns. Return 0 to go on; non-zero
 * cancels (for agent.message the turn stops within a second and its
 * partial reply is stored as cancelled). */
typedef int (*assistant_event_fn)(void *user, const char *event, const char *data_json);

/* Calls a method that streams (agent.message, agent.runs.events),
 * delivering its events in order on the calling thread. Returns 0 when the
 * call completed, ASSISTANT_ERR_CANCELLED when the callback cancelled it,
 * or another error code; an error known before the first event (bad
 * principal, scope, validation) is delivered as one "error" event with
 * {"error":{...}} and returned. */
ASSISTANT_API int assistant_stream(struct assistant_s *a, const char *method, const char *params_json,
                                   assistant_event_fn on_event, void *user);

/* Registers a tool the agent may call: tool_json is {"name", "description",
 * "parameters": <JSON Schema of the arguments object>}. `run` gets the
 * validated arguments as JSON and returns a malloc'ed JSON string (the
 * library frees it with free()); NULL or text that is not JSON becomes a
 * tool error the model sees. `run` may be called from any thread. */
ASSISTANT_API int assistant_register_tool(struct assistant_s *a, const char *tool_json,
                                          char *(*run)(void *user, const char *args_json),
                                          void *user);

/* Frees a string returned by this library. NULL is ignored. */
ASSISTANT_API void assistant_free(char *p);

#ifdef __cplusplus
}
#endif

#endif /* ASSISTANT_H_ */
