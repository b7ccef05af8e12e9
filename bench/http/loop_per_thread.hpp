// The asynchronous bench servers' frame (bare-async-proxy,
// bare-async-pg-server): one io_context per thread, nginx's loop per core,
// so a connection and whatever it uses stay on one thread and nothing is
// locked; one acceptor, on the first loop, hands each new connection to the
// loops in turn, which spreads wrk's few connections evenly (SO_REUSEPORT's
// hash would not).
#ifndef ASSISTANT_BENCH_HTTP_LOOP_PER_THREAD_HPP_
#define ASSISTANT_BENCH_HTTP_LOOP_PER_THREAD_HPP_

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>

#include <exception>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

namespace bench {

// Listens on 127.0.0.1:port and runs every loop (each a type with an
// `io_context ioc`) until the process is killed. `start(socket, loop)` runs
// on the loop that serves the connection. Returns 1 after printing why it
// could not listen.
template <typename Loop, typename Start>
int ServeOnLoops(const char* name, std::vector<std::unique_ptr<Loop>>& loops, int port,
                 Start start) {
  namespace asio = boost::asio;
  using tcp = asio::ip::tcp;
  struct Listener {
    std::vector<std::unique_ptr<Loop>>& loops;
    tcp::acceptor acceptor;
    Start start;
    std::size_t next = 0;

    void Accept() {
      Loop& loop = *loops[next++ % loops.size()];
      // The socket is made on the loop that will serve it.
      acceptor.async_accept(loop.ioc, [this, &loop](boost::system::error_code ec,
                                                    tcp::socket socket) {
        if (!ec) {
          asio::post(loop.ioc, [this, &loop, s = std::move(socket)]() mutable {
            start(std::move(s), loop);
          });
        }
        Accept();
      });
    }
  };
  try {
    const tcp::endpoint at(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port));
    Listener listener{loops, tcp::acceptor(loops.front()->ioc), std::move(start)};
    listener.acceptor.open(at.protocol());
    listener.acceptor.set_option(asio::socket_base::reuse_address(true));
    listener.acceptor.bind(at);
    listener.acceptor.listen(asio::socket_base::max_listen_connections);
    listener.Accept();
    // Each loop runs until killed, even with no connection yet.
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
    for (auto& loop : loops) guards.push_back(asio::make_work_guard(loop->ioc));
    std::vector<std::thread> others;
    for (std::size_t i = 1; i < loops.size(); ++i) {
      others.emplace_back([&loops, i] { loops[i]->ioc.run(); });
    }
    loops.front()->ioc.run();
    for (auto& t : others) t.join();
  } catch (const std::exception& e) {
    std::cerr << name << ": " << e.what() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace bench

#endif  // ASSISTANT_BENCH_HTTP_LOOP_PER_THREAD_HPP_
