// Every response the black-box tests receive, one JSON line each, so that
// after the suite a separate step (validate_responses.py) can check them all
// against the server's own /openapi.json. Off unless ASSISTANT_RESPONSE_LOG
// names the file; a run of the test binary starts that file afresh.
#ifndef ASSISTANT_TESTS_HTTP_RESPONSE_LOG_HPP_
#define ASSISTANT_TESTS_HTTP_RESPONSE_LOG_HPP_

#include <string>

namespace http_test {

// Thread-safe. `path` may carry a query string (the validator drops it).
void RecordResponse(const std::string& method, const std::string& path, int status,
                    const std::string& content_type, const std::string& body);

}  // namespace http_test

#endif  // ASSISTANT_TESTS_HTTP_RESPONSE_LOG_HPP_
