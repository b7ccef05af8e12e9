#include "gateway_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

extern char** environ;

namespace http_test {

GatewayProcess::GatewayProcess(const std::string& dir, std::vector<std::string> args) {
  log_ = dir + "/gateway-" + std::to_string(std::rand()) + ".log";
  args.insert(args.begin(), {ASSISTANT_GATEWAY_BIN, "--port", "0", "--health-interval", "100",
                            "--threads", "32"});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, 2, log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (posix_spawn(&pid_, argv[0], &files, nullptr, argv.data(), environ) != 0) pid_ = -1;
  posix_spawn_file_actions_destroy(&files);
  const std::regex port_re(R"(msg=listening.* port=(\d+))");
  for (int i = 0; i < 400 && pid_ > 0 && port_ == 0; ++i) {
    const std::string s = log();
    std::smatch m;
    if (std::regex_search(s, m, port_re)) {
      port_ = std::stoi(m[1]);
    } else {
      int st = 0;
      if (waitpid(pid_, &st, WNOHANG) == pid_) {  // refused to start
        pid_ = -1;
        exit_code_ = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
  }
}

GatewayProcess::~GatewayProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
}

std::string GatewayProcess::log() const {
  std::ifstream f(log_);
  std::stringstream text;
  text << f.rdbuf();
  return text.str();
}

}  // namespace http_test
