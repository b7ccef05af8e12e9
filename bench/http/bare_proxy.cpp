// The benchmark's bound for assistant-gateway (bench/http/gateway.sh): the
// gateway's forwarding model with none of its edge work. It serves on the
// same transport (http/transport.hpp, Boost.Beast) and forwards each request
// to one backend with the same pooled cpp-httplib exchange
// (forwarder.hpp ExchangeWhole) on a worker, but checks no token, sets no
// request id, CORS or rate-limit headers and applies no header policy: what
// it costs is what the model costs.
//
//   bare-beast-proxy --port 18805 --backend http://127.0.0.1:18801 --threads 16
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>

#include "forwarder.hpp"
#include "http/transport.hpp"

namespace http = assistant::server::http;

int main(int argc, char** argv) {
  int port = 18805;
  int threads = 16;
  std::string backend = "http://127.0.0.1:18801";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--port") == 0) port = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--threads") == 0) threads = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--backend") == 0) backend = argv[i + 1];
  }
  assistant::server::Upstream upstream;
  upstream.origin = backend;
  upstream.pool = std::make_shared<assistant::server::ConnectionPool>(backend);

  http::TransportOptions o;
  o.port = port;
  o.workers = threads;
  http::Transport transport(
      o,
      [&upstream](const http::Request& req, http::Response& res) {
        assistant::server::OutboundRequest out;
        out.method = req.method;
        out.target = req.target;
        for (const auto& [name, value] : req.headers) {
          if (!http::CaseInsensitiveEqual(name, "Host")) out.headers.emplace(name, value);
        }
        out.body = req.body;
        auto whole = assistant::server::ExchangeWhole(upstream, out);
        if (!whole.ok() || !*whole) {
          res.status = 502;
          return;
        }
        res.status = (*whole)->status;
        auto type = (*whole)->headers.find("Content-Type");
        res.SetBody(std::move((*whole)->body),
                    type == (*whole)->headers.end() ? "application/octet-stream" : type->second);
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
