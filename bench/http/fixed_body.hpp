// The fixed 20-task body the bare benchmark servers answer GET /api/tasks
// with, shaped like assistant-server's answer.
#ifndef ASSISTANT_BENCH_HTTP_FIXED_BODY_HPP_
#define ASSISTANT_BENCH_HTTP_FIXED_BODY_HPP_

#include <string>

inline std::string FixedTasksBody() {
  std::string body = "{\"tasks\":[";
  for (int i = 1; i <= 20; ++i) {
    if (i > 1) body += ',';
    body += "{\"id\":\"" + std::to_string(i) + "\",\"title\":\"seed task " + std::to_string(i) +
            "\",\"completed\":false,\"created_at\":\"2025-01-01T00:00:00.000Z\","
            "\"updated_at\":\"2025-01-01T00:00:00.000Z\"}";
  }
  body += "],\"next_cursor\":null}";
  return body;
}

#endif  // ASSISTANT_BENCH_HTTP_FIXED_BODY_HPP_
