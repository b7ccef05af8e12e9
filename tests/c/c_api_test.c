/*
 * The C ABI as a C program uses it: plain C99 (plus POSIX threads and
 * processes), only assistant.h, results read with cJSON. Run by ctest, and
 * again under valgrind with leak checking where valgrind exists.
 *
 *   c_api_test FAKE_UPSTREAM_BINARY DATA_DIR
 *
 * The tool tests drive the agent with a fake OpenAI-compatible upstream
 * (tests/fake_upstream) that asks for the C tools; everything else runs on
 * the built-in rules provider over an in-memory database.
 */
#define _POSIX_C_SOURCE 200809L
#include <assistant.h>
#include <cjson/cJSON.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int g_passed = 0;
static int g_failed = 0;

#define CHECK(cond)                                                   \
  do {                                                                \
    if (cond) {                                                       \
      ++g_passed;                                                     \
    } else {                                                          \
      ++g_failed;                                                     \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                 \
  } while (0)

static const char *kFastHash = "\"argon2_memory_kib\": 256, \"argon2_iterations\": 1";

static assistant *open_memory(void) {
  char config[512];
  char *error = NULL;
  assistant *a = NULL;
  snprintf(config, sizeof config, "{\"database\": \"sqlite::memory:\", %s}", kFastHash);
  int rc = assistant_open(config, &a, &error);
  if (rc != ASSISTANT_OK) fprintf(stderr, "open failed: %s\n", error ? error : "(none)");
  assistant_free(error);
  return a;
}

/* Calls a method; returns the parsed result (or error body) and the code. */
static cJSON *call(assistant *a, const char *method, const char *params, int *code) {
  char *out = NULL;
  *code = assistant_call(a, method, params, &out);
  cJSON *json = out ? cJSON_Parse(out) : NULL;
  if (out && !json) fprintf(stderr, "%s returned text that is not JSON: %s\n", method, out);
  assistant_free(out);
  return json;
}

static const char *str_at(const cJSON *obj, const char *a, const char *b) {
  const cJSON *x = cJSON_GetObjectItemCaseSensitive(obj, a);
  if (b) x = cJSON_GetObjectItemCaseSensitive(x, b);
  return cJSON_IsString(x) ? x->valuestring : "";
}

static char *dup_str(const char *s) {
  char *p = malloc(strlen(s) + 1);
  strcpy(p, s);
  return p;
}

/* Registers `email` and returns its access token (malloc'ed). */
static char *register_user(assistant *a, const char *email) {
  char params[256];
  int code = 0;
  snprintf(params, sizeof params,
           "{\"email\": \"%s\", \"password\": \"correct horse battery\", \"name\": \"T\"}", email);
  cJSON *r = call(a, "auth.register", params, &code);
  CHECK(code == ASSISTANT_OK);
  char *token = dup_str(str_at(r, "access_token", NULL));
  cJSON_Delete(r);
  return token;
}

static void test_version_and_error_names(void) {
  CHECK(strlen(assistant_version()) >= 5);
  CHECK(strcmp(assistant_error_name(ASSISTANT_OK), "ok") == 0);
  CHECK(strcmp(assistant_error_name(ASSISTANT_ERR_NOT_FOUND), "not_found") == 0);
  CHECK(strcmp(assistant_error_name(ASSISTANT_ERR_INSUFFICIENT_SCOPE), "insufficient_scope") == 0);
  CHECK(strcmp(assistant_error_name(99999), "unknown") == 0);
  assistant_free(NULL);
  assistant_close(NULL);
}

static void test_open_errors(void) {
  assistant *a = (assistant *)0x1;
  char *error = NULL;
  int rc = assistant_open("{\"database\": \"sqlite::memory:\", \"bogus_setting\": 1}", &a, &error);
  CHECK(rc == ASSISTANT_ERR_INVALID_CONFIG);
  CHECK(a == NULL);
  cJSON *e = cJSON_Parse(error);
  CHECK(strcmp(str_at(e, "error", "code"), "invalid_config") == 0);
  CHECK(strcmp(str_at(e, "error", "field"), "bogus_setting") == 0);
  CHECK(strstr(str_at(e, "error", "message"), "bogus_setting") != NULL);
  cJSON_Delete(e);
  assistant_free(error);

  rc = assistant_open("{\"database\": ", &a, &error);
  CHECK(rc == ASSISTANT_ERR_MALFORMED_REQUEST);
  assistant_free(error);
  rc = assistant_open("{\"database\": 7}", &a, NULL);
  CHECK(rc == ASSISTANT_ERR_INVALID_CONFIG);
  rc = assistant_open("{\"database\": \"mysql://nope\"}", &a, &error);
  CHECK(rc != ASSISTANT_OK);
  CHECK(error != NULL && strstr(error, "\"error\"") != NULL);
  assistant_free(error);
}

static void test_tasks_and_isolation(void) {
  assistant *a = open_memory();
  CHECK(a != NULL);
  if (!a) return;
  char *ann = register_user(a, "ann@example.com");
  char *bob = register_user(a, "bob@example.com");
  char params[2048];
  int code = 0;

  snprintf(params, sizeof params,
           "{\"principal\": {\"token\": \"%s\"}, \"title\": \"buy milk\", \"priority\": 2}", ann);
  cJSON *r = call(a, "tasks.create", params, &code);
  CHECK(code == ASSISTANT_OK);
  char *task_id = dup_str(str_at(r, "task", "id"));
  CHECK(strcmp(str_at(r, "task", "title"), "buy milk") == 0);
  cJSON_Delete(r);

  snprintf(params, sizeof params,
           "{\"principal\": {\"token\": \"%s\"}, \"id\": \"%s\", \"completed\": true}", ann,
           task_id);
  r = call(a, "tasks.update", params, &code);
  CHECK(code == ASSISTANT_OK);
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "task"), "completed")));
  cJSON_Delete(r);

  snprintf(params, sizeof params, "{\"principal\": {\"token\": \"%s\"}, \"status\": \"completed\"}",
           ann);
  r = call(a, "tasks.list", params, &code);
  CHECK(code == ASSISTANT_OK);
  CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(r, "tasks")) == 1);
  CHECK(cJSON_IsNull(cJSON_GetObjectItem(r, "next_cursor")));
  cJSON_Delete(r);

  /* Bob sees nothing of Ann's: her task is "not found" to him. */
  snprintf(params, sizeof params, "{\"principal\": {\"token\": \"%s\"}, \"id\": \"%s\"}", bob,
           task_id);
  r = call(a, "tasks.get", params, &code);
  CHECK(code == ASSISTANT_ERR_NOT_FOUND);
  CHECK(strcmp(str_at(r, "error", "code"), "not_found") == 0);
  cJSON_Delete(r);
  r = call(a, "tasks.delete", params, &code);
  CHECK(code == ASSISTANT_ERR_NOT_FOUND);
  cJSON_Delete(r);

  /* Who calls must be said, and said right. */
  snprintf(params, sizeof params, "{\"id\": \"%s\"}", task_id);
  r = call(a, "tasks.get", params, &code);
  CHECK(code == ASSISTANT_ERR_MISSING_PRINCIPAL);
  cJSON_Delete(r);
  r = call(a, "tasks.list", "{\"principal\": {\"token\": \"eyJhbGciOiJub25lIn0.e30.\"}}", &code);
  CHECK(code == ASSISTANT_ERR_INVALID_TOKEN);
  cJSON_Delete(r);
  r = call(a, "tasks.list", "{\"principal\": {\"user_id\": \"no-such-user\"}}", &code);
  CHECK(code == ASSISTANT_ERR_UNKNOWN_USER);
  cJSON_Delete(r);
  r = call(a, "tasks.explode", "{}", &code);
  CHECK(code == ASSISTANT_ERR_UNKNOWN_METHOD);
  cJSON_Delete(r);
  r = call(a, "tasks.list", "[1, 2]", &code);
  CHECK(code == ASSISTANT_ERR_MALFORMED_REQUEST);
  cJSON_Delete(r);
  r = call(a, "tasks.list", "{\"principal\": ", &code);
  CHECK(code == ASSISTANT_ERR_MALFORMED_REQUEST);
  cJSON_Delete(r);
  /* A key given twice could be read two ways: refused, as the server does. */
  r = call(a, "tasks.create",
           "{\"principal\": {\"user_id\": \"x\"}, \"title\": \"a\", \"title\": \"b\"}", &code);
  CHECK(code == ASSISTANT_ERR_MALFORMED_REQUEST);
  CHECK(strstr(str_at(r, "error", "message"), "title") != NULL);
  cJSON_Delete(r);
  r = call(a, "tasks.list", "{\"principal\": {\"user_id\": \"\xff\"}}", &code);
  CHECK(code == ASSISTANT_ERR_MALFORMED_REQUEST);
  cJSON_Delete(r);
  r = call(NULL, "tasks.list", "{}", &code);
  CHECK(code == ASSISTANT_ERR_INVALID_ARGUMENT);
  cJSON_Delete(r);

  /* Validation names the field. */
  snprintf(params, sizeof params, "{\"principal\": {\"token\": \"%s\"}, \"title\": 5}", ann);
  r = call(a, "tasks.create", params, &code);
  CHECK(code == ASSISTANT_ERR_INVALID_ARGUMENT);
  CHECK(strcmp(str_at(r, "error", "field"), "title") == 0);
  cJSON_Delete(r);

  /* The owner deletes; then it is gone. */
  snprintf(params, sizeof params, "{\"principal\": {\"token\": \"%s\"}, \"id\": \"%s\"}", ann,
           task_id);
  r = call(a, "tasks.delete", params, &code);
  CHECK(code == ASSISTANT_OK);
  cJSON_Delete(r);
  r = call(a, "tasks.get", params, &code);
  CHECK(code == ASSISTANT_ERR_NOT_FOUND);
  cJSON_Delete(r);

  /* Login: a wrong password is invalid_credentials. */
  r = call(a, "auth.login", "{\"email\": \"ann@example.com\", \"password\": \"wrong password\"}",
           &code);
  CHECK(code == ASSISTANT_ERR_INVALID_CREDENTIALS);
  cJSON_Delete(r);

  free(task_id);
  free(ann);
  free(bob);
  assistant_close(a);
}

static void test_api_key_scopes(void) {
  assistant *a = open_memory();
  if (!a) return;
  char *ann = register_user(a, "ann@example.com");
  char params[2048];
  int code = 0;
  snprintf(params, sizeof params,
           "{\"principal\": {\"token\": \"%s\"}, \"name\": \"reader\", \"scopes\": [\"tasks:read\"]}",
           ann);
  cJSON *r = call(a, "auth.api_keys.create", params, &code);
  CHECK(code == ASSISTANT_OK);
  char *key = dup_str(str_at(r, "key", NULL));
  CHECK(strncmp(key, "ak_", 3) == 0);
  cJSON_Delete(r);

  snprintf(params, sizeof params, "{\"principal\": {\"token\": \"%s\"}, \"title\": \"x\"}", key);
  r = call(a, "tasks.create", params, &code);
  CHECK(code == ASSISTANT_ERR_INSUFFICIENT_SCOPE);
  cJSON_Delete(r);
  snprintf(params, sizeof params, "{\"principal\": {\"token\": \"%s\"}}", key);
  r = call(a, "tasks.list", params, &code);
  CHECK(code == ASSISTANT_OK);
  cJSON_Delete(r);
  /* A key cannot be used where a session is needed. */
  r = call(a, "auth.logout", params, &code);
  CHECK(code == ASSISTANT_ERR_NOT_A_SESSION);
  cJSON_Delete(r);
  free(key);
  free(ann);
  assistant_close(a);
}

struct events {
  int count;
  char names[64][32];
  char run_id[64];
  char last_tool_result[1024];
  int cancel_at; /* cancel when this many events were seen; 0 = never */
};

static int on_event(void *user, const char *event, const char *data_json) {
  struct events *ev = user;
  if (ev->count < 64) snprintf(ev->names[ev->count], sizeof ev->names[0], "%s", event);
  ev->count++;
  cJSON *data = cJSON_Parse(data_json);
  if (!data) fprintf(stderr, "event %s carries text that is not JSON\n", event);
  if (strcmp(event, "message.start") == 0) {
    snprintf(ev->run_id, sizeof ev->run_id, "%s", str_at(data, "run_id", NULL));
  }
  if (strcmp(event, "tool.result") == 0) {
    snprintf(ev->last_tool_result, sizeof ev->last_tool_result, "%s", data_json);
  }
  cJSON_Delete(data);
  return ev->cancel_at != 0 && ev->count >= ev->cancel_at;
}

static int saw(const struct events *ev, const char *name) {
  for (int i = 0; i < ev->count && i < 64; ++i) {
    if (strcmp(ev->names[i], name) == 0) return 1;
  }
  return 0;
}

static void test_stream(void) {
  assistant *a = open_memory();
  if (!a) return;
  char *ann = register_user(a, "ann@example.com");
  char params[2048];
  int code = 0;

  /* The embedding program acts for Ann by her id. */
  cJSON *me = call(a, "user.get", "{\"principal\": {\"token\": \"x\"}}", &code);
  CHECK(code == ASSISTANT_ERR_INVALID_TOKEN);
  cJSON_Delete(me);
  snprintf(params, sizeof params, "{\"principal\": {\"token\": \"%s\"}}", ann);
  me = call(a, "user.get", params, &code);
  char *ann_id = dup_str(str_at(me, "user", "id"));
  cJSON_Delete(me);

  struct events ev;
  memset(&ev, 0, sizeof ev);
  snprintf(params, sizeof params,
           "{\"principal\": {\"user_id\": \"%s\"}, \"message\": \"add buy milk to my list\"}",
           ann_id);
  code = assistant_stream(a, "agent.message", params, on_event, &ev);
  CHECK(code == ASSISTANT_OK);
  CHECK(strcmp(ev.names[0], "message.start") == 0);
  CHECK(saw(&ev, "tool.call"));
  CHECK(saw(&ev, "tool.result"));
  CHECK(strcmp(ev.names[(ev.count - 1) % 64], "message.done") == 0);
  CHECK(strlen(ev.run_id) > 0);

  snprintf(params, sizeof params, "{\"principal\": {\"user_id\": \"%s\"}}", ann_id);
  cJSON *r = call(a, "tasks.list", params, &code);
  CHECK(code == ASSISTANT_OK);
  const cJSON *tasks = cJSON_GetObjectItem(r, "tasks");
  CHECK(cJSON_GetArraySize(tasks) == 1);
  CHECK(strcmp(str_at(cJSON_GetArrayItem(tasks, 0), "title", NULL), "buy milk") == 0);
  cJSON_Delete(r);

  /* The run replays from any event id. */
  struct events replay;
  memset(&replay, 0, sizeof replay);
  snprintf(params, sizeof params,
           "{\"principal\": {\"user_id\": \"%s\"}, \"id\": \"%s\", \"last_event_id\": 1}", ann_id,
           ev.run_id);
  code = assistant_stream(a, "agent.runs.events", params, on_event, &replay);
  CHECK(code == ASSISTANT_OK);
  CHECK(replay.count == ev.count - 1);

  /* A refusal known before the turn starts is one error event. */
  struct events bad;
  memset(&bad, 0, sizeof bad);
  snprintf(params, sizeof params, "{\"principal\": {\"user_id\": \"%s\"}}", ann_id);
  code = assistant_stream(a, "agent.message", params, on_event, &bad);
  CHECK(code == ASSISTANT_ERR_MISSING_FIELD);
  CHECK(bad.count == 1 && strcmp(bad.names[0], "error") == 0);
  memset(&bad, 0, sizeof bad);
  code = assistant_stream(a, "tasks.list", params, on_event, &bad);
  CHECK(code == ASSISTANT_ERR_NOT_STREAMABLE);
  CHECK(bad.count == 1);

  /* A non-zero return cancels: the reply is stored, marked cancelled. */
  struct events cancel;
  memset(&cancel, 0, sizeof cancel);
  cancel.cancel_at = 1;
  snprintf(params, sizeof params,
           "{\"principal\": {\"user_id\": \"%s\"}, \"message\": \"what is on my list?\"}", ann_id);
  code = assistant_stream(a, "agent.message", params, on_event, &cancel);
  CHECK(code == ASSISTANT_ERR_CANCELLED);
  CHECK(cancel.count == 1);
  snprintf(params, sizeof params, "{\"principal\": {\"user_id\": \"%s\"}, \"id\": \"%s\"}",
           ann_id, cancel.run_id);
  r = call(a, "agent.runs.get", params, &code);
  CHECK(code == ASSISTANT_OK);
  CHECK(strcmp(str_at(r, "run", "status"), "cancelled") == 0);
  cJSON_Delete(r);

  free(ann_id);
  free(ann);
  assistant_close(a);
}

struct thread_arg {
  assistant *a;
  const char *token;
  int failures;
};

static void *create_tasks(void *p) {
  struct thread_arg *arg = p;
  char params[1024];
  for (int i = 0; i < 25; ++i) {
    char *out = NULL;
    snprintf(params, sizeof params, "{\"principal\": {\"token\": \"%s\"}, \"title\": \"t%d\"}",
             arg->token, i);
    if (assistant_call(arg->a, "tasks.create", params, &out) != ASSISTANT_OK) arg->failures++;
    assistant_free(out);
  }
  return NULL;
}

static void test_threads(void) {
  assistant *a = open_memory();
  if (!a) return;
  char *ann = register_user(a, "ann@example.com");
  pthread_t threads[8];
  struct thread_arg args[8];
  for (int i = 0; i < 8; ++i) {
    args[i].a = a;
    args[i].token = ann;
    args[i].failures = 0;
    pthread_create(&threads[i], NULL, create_tasks, &args[i]);
  }
  for (int i = 0; i < 8; ++i) {
    pthread_join(threads[i], NULL);
    CHECK(args[i].failures == 0);
  }
  char params[1024];
  int code = 0;
  snprintf(params, sizeof params, "{\"principal\": {\"token\": \"%s\"}, \"limit\": 200}", ann);
  cJSON *r = call(a, "tasks.list", params, &code);
  CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(r, "tasks")) == 200);
  cJSON_Delete(r);
  free(ann);
  assistant_close(a);
}

/* ------------------------------------------------------------------ tools */

static int g_weather_calls = 0;
static char g_weather_args[256];

static char *weather_tool(void *user, const char *args_json) {
  (void)user;
  g_weather_calls++;
  snprintf(g_weather_args, sizeof g_weather_args, "%s", args_json);
  return dup_str("{\"temp_c\": 21, \"sky\": \"sunny\"}");
}

static char *null_tool(void *user, const char *args_json) {
  (void)user;
  (void)args_json;
  return NULL;
}

/* Starts the fake upstream; returns its pid and writes its base URL. */
static pid_t start_fake(const char *binary, const char *data_dir, char *url, size_t url_size) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    char f1[512], f2[512], f3[512];
    snprintf(f1, sizeof f1, "%s/c_weather_call.sse", data_dir);
    snprintf(f2, sizeof f2, "%s/c_after_tool.sse", data_dir);
    snprintf(f3, sizeof f3, "%s/c_null_call.sse", data_dir);
    dup2(fds[1], 1);
    close(fds[0]);
    execl(binary, binary, "--protocol", "openai", "--reply", f1, "--reply", f2, "--reply", f3,
          "--reply", f2, (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  FILE *in = fdopen(fds[0], "r");
  if (!in || !fgets(url, (int)url_size, in)) url[0] = '\0';
  url[strcspn(url, "\n")] = '\0';
  if (in) fclose(in);
  return pid;
}

static void test_tools(const char *fake_binary, const char *data_dir) {
  char url[256];
  pid_t fake = start_fake(fake_binary, data_dir, url, sizeof url);
  CHECK(fake > 0 && strlen(url) > 0);
  if (fake <= 0 || !*url) return;

  char config[1024];
  char *error = NULL;
  assistant *a = NULL;
  snprintf(config, sizeof config,
           "{\"database\": \"sqlite::memory:\", %s, \"llm_provider\": \"openai\", "
           "\"llm_base_url\": \"%s\", \"llm_model\": \"gpt-4o-mini\", \"llm_api_key\": \"sk-test\"}",
           kFastHash, url);
  int rc = assistant_open(config, &a, &error);
  CHECK(rc == ASSISTANT_OK);
  if (rc != ASSISTANT_OK) fprintf(stderr, "%s\n", error);
  assistant_free(error);
  if (!a) {
    kill(fake, SIGTERM);
    waitpid(fake, NULL, 0);
    return;
  }

  const char *weather =
      "{\"name\": \"c_weather\", \"description\": \"The weather in a city\", \"parameters\": "
      "{\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}, "
      "\"required\": [\"city\"], \"additionalProperties\": false}}";
  CHECK(assistant_register_tool(a, weather, weather_tool, NULL) == ASSISTANT_OK);
  CHECK(assistant_register_tool(a, weather, weather_tool, NULL) != ASSISTANT_OK);
  CHECK(assistant_register_tool(a, "{\"name\": \"bad name!\"}", weather_tool, NULL) ==
        ASSISTANT_ERR_INVALID_ARGUMENT);
  CHECK(assistant_register_tool(a, "not json", weather_tool, NULL) ==
        ASSISTANT_ERR_MALFORMED_REQUEST);
  CHECK(assistant_register_tool(a, "{\"name\": \"c_null\"}", null_tool, NULL) == ASSISTANT_OK);

  int code = 0;
  cJSON *tools = call(a, "tools.list", "{}", &code);
  CHECK(code == ASSISTANT_OK);
  int found = 0;
  const cJSON *t;
  cJSON_ArrayForEach(t, cJSON_GetObjectItem(tools, "tools")) {
    if (strcmp(str_at(t, "name", NULL), "c_weather") == 0) found = 1;
  }
  CHECK(found);
  cJSON_Delete(tools);

  char *ann = register_user(a, "ann@example.com");
  char params[2048];
  struct events ev;
  memset(&ev, 0, sizeof ev);
  snprintf(params, sizeof params,
           "{\"principal\": {\"token\": \"%s\"}, \"message\": \"weather in Paris?\"}", ann);
  code = assistant_stream(a, "agent.message", params, on_event, &ev);
  CHECK(code == ASSISTANT_OK);
  CHECK(g_weather_calls == 1);
  cJSON *args = cJSON_Parse(g_weather_args);
  CHECK(strcmp(str_at(args, "city", NULL), "Paris") == 0);
  cJSON_Delete(args);
  CHECK(strstr(ev.last_tool_result, "\"temp_c\":21") != NULL);
  CHECK(saw(&ev, "message.done"));

  /* A tool that returns NULL is a tool error the model sees, not a crash. */
  memset(&ev, 0, sizeof ev);
  snprintf(params, sizeof params,
           "{\"principal\": {\"token\": \"%s\"}, \"message\": \"call the null tool\"}", ann);
  code = assistant_stream(a, "agent.message", params, on_event, &ev);
  CHECK(code == ASSISTANT_OK);
  CHECK(strstr(ev.last_tool_result, "\"error\"") != NULL);
  CHECK(saw(&ev, "message.done"));

  free(ann);
  assistant_close(a);
  kill(fake, SIGTERM);
  waitpid(fake, NULL, 0);
}

int main(int argc, char **argv) {
  test_version_and_error_names();
  test_open_errors();
  test_tasks_and_isolation();
  test_api_key_scopes();
  test_stream();
  test_threads();
  if (argc >= 3) test_tools(argv[1], argv[2]);
  printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
