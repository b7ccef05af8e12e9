// Starts the real assistant-gateway binary for black-box tests on a free
// loopback port (it logs the port), with fast health checks; stops it with
// SIGTERM at the end.
#ifndef ASSISTANT_TESTS_HTTP_GATEWAY_PROCESS_HPP_
#define ASSISTANT_TESTS_HTTP_GATEWAY_PROCESS_HPP_

#include <sys/types.h>

#include <string>
#include <vector>

#include "harness.hpp"

namespace http_test {

class GatewayProcess {
 public:
  // `args` after the defaults; the log goes to a file in `dir`.
  GatewayProcess(const std::string& dir, std::vector<std::string> args);
  ~GatewayProcess();
  GatewayProcess(const GatewayProcess&) = delete;
  GatewayProcess& operator=(const GatewayProcess&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  // The exit code of a gateway that refused to start; -1 while it runs.
  int exit_code() const { return exit_code_; }
  std::string log() const;  // everything it wrote so far

  Response Call(const std::string& method, const std::string& path,
                const std::optional<Json>& body = std::nullopt, const std::string& token = "",
                httplib::Headers headers = {}) const {
    return CallAt(port_, method, path, body, token, std::move(headers));
  }
  Response Raw(const std::string& method, const std::string& path, const std::string& body,
               const std::string& content_type, httplib::Headers headers = {}) const {
    return RawAt(port_, method, path, body, content_type, std::move(headers));
  }

 private:
  std::string log_;
  pid_t pid_ = -1;
  int port_ = 0;
  int exit_code_ = -1;
};

}  // namespace http_test

#endif  // ASSISTANT_TESTS_HTTP_GATEWAY_PROCESS_HPP_
