/*
 * libassistant from C: open an instance on SQLite, sign a user up, register
 * a C tool, stream an agent turn, and cancel a second one from the event
 * callback.
 *
 *   c_embed [DATABASE_URL]        (default sqlite::memory:)
 *
 * Results are JSON text; this example reads them with cJSON (Debian's
 * libcjson-dev), as any C JSON library would do.
 */
#include <assistant.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A tool the agent may call: the arguments arrive validated against the
 * schema given at registration; the result is a malloc'ed JSON string. */
static char *roll_die(void *user, const char *args_json) {
  (void)user;
  (void)args_json;
  const char *result = "{\"rolled\": 4}";
  char *out = malloc(strlen(result) + 1);
  if (out) strcpy(out, result);
  return out;
}

static int print_event(void *user, const char *event, const char *data_json) {
  (void)user;
  printf("  event %s %s\n", event, data_json);
  return 0;
}

/* Cancels the turn at its first event: the partial reply is stored, marked
 * cancelled. */
static int cancel_at_once(void *user, const char *event, const char *data_json) {
  (void)data_json;
  printf("  event %s -> cancel\n", event);
  ++*(int *)user;
  return 1;
}

static int fail(const char *what, int code, char *json) {
  fprintf(stderr, "%s failed (%s): %s\n", what, assistant_error_name(code), json ? json : "");
  assistant_free(json);
  return 1;
}

int main(int argc, char **argv) {
  char config[512];
  snprintf(config, sizeof config, "{\"database\": \"%s\"}", argc > 1 ? argv[1] : "sqlite::memory:");
  assistant *a = NULL;
  char *out = NULL;
  int rc = assistant_open(config, &a, &out);
  if (rc != ASSISTANT_OK) return fail("assistant_open", rc, out);
  printf("libassistant %s\n", assistant_version());

  rc = assistant_register_tool(
      a,
      "{\"name\": \"roll_die\", \"description\": \"Roll a six-sided die\", \"parameters\": "
      "{\"type\": \"object\", \"properties\": {}}}",
      roll_die, NULL);
  if (rc != ASSISTANT_OK) return fail("assistant_register_tool", rc, NULL);

  /* Sign up, or log in when the account exists from an earlier run. */
  const char *who = "{\"email\": \"cee@example.com\", \"password\": \"correct horse battery\"}";
  rc = assistant_call(a, "auth.register", who, &out);
  if (rc == ASSISTANT_ERR_EMAIL_TAKEN) {
    assistant_free(out);
    rc = assistant_call(a, "auth.login", who, &out);
  }
  if (rc != ASSISTANT_OK) return fail("sign in", rc, out);
  cJSON *signed_in = cJSON_Parse(out);
  assistant_free(out);
  const cJSON *access = cJSON_GetObjectItemCaseSensitive(signed_in, "access_token");
  char token[1024] = {0};
  if (cJSON_IsString(access)) snprintf(token, sizeof token, "%s", access->valuestring);
  cJSON_Delete(signed_in);
  printf("signed in as cee@example.com\n");

  char params[2048];
  snprintf(params, sizeof params,
           "{\"principal\": {\"token\": \"%s\"}, \"message\": \"add water the plants\"}", token);
  printf("streamed turn:\n");
  rc = assistant_stream(a, "agent.message", params, print_event, NULL);
  if (rc != ASSISTANT_OK) return fail("agent.message", rc, NULL);

  int seen = 0;
  snprintf(params, sizeof params,
           "{\"principal\": {\"token\": \"%s\"}, \"message\": \"what is on my list?\"}", token);
  printf("cancelled turn:\n");
  rc = assistant_stream(a, "agent.message", params, cancel_at_once, &seen);
  printf("  -> %s after %d event(s)\n", assistant_error_name(rc), seen);

  snprintf(params, sizeof params, "{\"principal\": {\"token\": \"%s\"}}", token);
  rc = assistant_call(a, "tasks.list", params, &out);
  if (rc != ASSISTANT_OK) return fail("tasks.list", rc, out);
  printf("tasks: %s\n", out);
  assistant_free(out);

  rc = assistant_call(a, "tools.list", "{}", &out);
  if (rc != ASSISTANT_OK) return fail("tools.list", rc, out);
  printf("tools include roll_die: %s\n", strstr(out, "\"roll_die\"") ? "yes" : "no");
  assistant_free(out);

  assistant_close(a);
  return 0;
}
