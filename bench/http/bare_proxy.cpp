// The benchmark's bound for assistant-gateway (bench/http/gateway.sh): the
// gateway's forwarding model with none of its edge work. It serves on the
// same transport (http/transport.hpp, Boost.Beast) and forwards each request
// to one backend on a worker, but checks no token, sets no
// request id, CORS or rate-limit headers and applies no header policy: what
// it costs is what the model costs.
//
// --client picks the exchange with the backend, so that the two can be
// compared in one run: "httplib" (the pooled cpp-httplib client) or
// "beast" (the forwarder's, forwarder.hpp: a synchronous Boost.Beast client
// on pooled keep-alive connections).
//
//   bare-beast-proxy --port 18805 --backend http://127.0.0.1:18801 --threads 16 --client beast
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <httplib.h>

#include "forwarder.hpp"
#include "http/transport.hpp"

namespace http = assistant::server::http;

namespace {

// The old model: one exchange with a pooled, kept-alive cpp-httplib client.
class HttplibExchange {
 public:
  explicit HttplibExchange(std::string origin) : origin_(std::move(origin)) {}
  bool Run(const http::Request& req, http::Response& res) {
    std::unique_ptr<httplib::Client> client = Take();
    httplib::Request out;
    out.method = req.method;
    out.path = req.target;
    for (const auto& [name, value] : req.headers) {
      if (!http::CaseInsensitiveEqual(name, "Host")) out.headers.emplace(name, value);
    }
    out.body = req.body;
    httplib::Response answer;
    httplib::Error error = httplib::Error::Success;
    if (!client->send(out, answer, error)) return false;
    res.status = answer.status;
    res.SetBody(std::move(answer.body), answer.get_header_value("Content-Type"));
    std::lock_guard<std::mutex> lock(mu_);
    idle_.push_back(std::move(client));
    return true;
  }

 private:
  std::unique_ptr<httplib::Client> Take() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!idle_.empty()) {
        auto client = std::move(idle_.back());
        idle_.pop_back();
        return client;
      }
    }
    auto client = std::make_unique<httplib::Client>(origin_);
    client->set_keep_alive(true);
    client->set_tcp_nodelay(true);
    client->set_decompress(false);
    return client;
  }
  const std::string origin_;
  std::mutex mu_;
  std::vector<std::unique_ptr<httplib::Client>> idle_;
};

// The gateway's model: the forwarder's exchange (forwarder.hpp), its
// answer read whole.
bool BeastExchange(const assistant::server::Upstream& upstream, const http::Request& req,
                   http::Response& res) {
  assistant::server::OutboundRequest out;
  out.method = req.method;
  out.target = req.target;
  for (const auto& [name, value] : req.headers) {
    if (!http::CaseInsensitiveEqual(name, "Host")) out.headers.Add(name, value);
  }
  out.body = req.body;
  auto call = assistant::server::UpstreamCall::Start(upstream, std::move(out));
  if (!call.ok()) return false;
  std::string body;
  if (!(*call)->ReadAll(&body)) return false;
  res.status = (*call)->status();
  res.SetBody(std::move(body), (*call)->headers().Get("Content-Type"));
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  int port = 18805;
  int threads = 16;
  std::string backend = "http://127.0.0.1:18801";
  std::string client = "httplib";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--port") == 0) port = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--threads") == 0) threads = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--backend") == 0) backend = argv[i + 1];
    if (std::strcmp(argv[i], "--client") == 0) client = argv[i + 1];
  }
  assistant::server::Upstream upstream;
  upstream.origin = backend;
  upstream.pool = std::make_shared<assistant::server::UpstreamPool>(backend);
  HttplibExchange httplib_exchange(backend);
  const bool beast = client == "beast";

  http::TransportOptions o;
  o.port = port;
  o.workers = threads;
  http::Transport transport(
      o,
      [&](const http::Request& req, http::Response& res) {
        const bool ok = beast ? BeastExchange(upstream, req, res) : httplib_exchange.Run(req, res);
        if (!ok) res.status = 502;
      },
      [](int status, const http::Request&, http::Response& res, const std::string&) {
        res.status = status;
      });
  if (auto st = transport.Bind(); !st.ok()) {
    std::cerr << st.message() << "\n";
    return 1;
  }
  transport.Run();
}
