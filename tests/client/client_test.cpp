// The C++ client libraries against the real assistant-server over loopback
// (tests/http/harness.hpp starts it): sign-in, tokens refreshed by
// themselves and after a 401, eight threads sharing one refresh, a session
// ended elsewhere, a stream whose connection is cut mid-turn (re-attached,
// nothing lost or repeated), cancel, and a server that is down or silent.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <chrono>
#include <set>
#include <thread>
#include <vector>

#include "assistant/client/agent_client.hpp"
#include "assistant/client/auth_client.hpp"
#include "assistant/client/conversations_client.hpp"
#include "assistant/client/tasks_client.hpp"
#include "fake_upstream/fake_upstream.hpp"
#include "http/harness.hpp"

using namespace assistant::client;
using assistant::StatusCode;
using assistant::TaskFilter;
using http_test::ServerProcess;

namespace {

const char kPassword[] = "correct horse battery";

std::string Url(int port) { return "http://127.0.0.1:" + std::to_string(port); }

ClientOptions Options(int port, std::chrono::milliseconds margin = std::chrono::seconds(30)) {
  ClientOptions o;
  o.base_url = Url(port);
  o.refresh_margin = margin;
  o.read_timeout = std::chrono::seconds(10);
  return o;
}

// How many refresh requests the server saw for the signed-in user.
int RefreshCount(AuthClient& auth) {
  auto audit = auth.Call("GET", "/api/user/audit?limit=200");
  REQUIRE(audit.ok());
  int n = 0;
  for (const auto& e : (*audit)["events"]) {
    if (e["type"] == "auth.refresh" && e["outcome"] == "ok") ++n;
  }
  return n;
}

// A loopback TCP proxy in front of the server that, while armed, cuts the
// first connection right after it forwarded the first message.delta event.
class CuttingProxy {
 public:
  explicit CuttingProxy(int target_port) : target_(target_port) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(listen_fd_, 64) == 0);
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~CuttingProxy() {
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
    acceptor_.join();
    for (auto& t : pumps_) t.join();
  }
  int port() const { return port_; }
  int cuts() const { return cuts_; }

 private:
  void Accept() {
    while (!stopping_) {
      int client = ::accept(listen_fd_, nullptr, nullptr);
      if (client < 0) return;
      int server = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(static_cast<uint16_t>(target_));
      if (::connect(server, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(client);
        ::close(server);
        continue;
      }
      pumps_.emplace_back([client, server] { Pump(client, server, nullptr); });
      pumps_.emplace_back([this, client, server] { Pump(server, client, this); });
    }
  }
  // Copies from `from` to `to`; the server-to-client side may cut.
  static void Pump(int from, int to, CuttingProxy* cutter) {
    std::string seen;
    char buf[16384];
    while (true) {
      ssize_t n = ::recv(from, buf, sizeof buf, 0);
      if (n <= 0) break;
      std::string_view chunk(buf, static_cast<size_t>(n));
      if (cutter != nullptr && cutter->armed_) {
        const size_t before = seen.size();
        seen.append(chunk);
        size_t delta = seen.find("event: message.delta");
        size_t end = delta == std::string::npos ? delta : seen.find("\n\n", delta);
        if (end != std::string::npos && cutter->armed_.exchange(false)) {
          ::send(to, buf, end + 2 - before, MSG_NOSIGNAL);
          ++cutter->cuts_;
          break;
        }
      }
      if (::send(to, buf, static_cast<size_t>(n), MSG_NOSIGNAL) != n) break;
    }
    ::shutdown(from, SHUT_RDWR);
    ::shutdown(to, SHUT_RDWR);
  }

  int target_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> armed_{true};
  std::atomic<int> cuts_{0};
  std::thread acceptor_;
  std::vector<std::thread> pumps_;
};

}  // namespace

TEST_SUITE("clients") {
  TEST_CASE("sign in, then tasks and conversations through the typed clients") {
    ServerProcess server;
    REQUIRE(server.started());
    const std::string token_file = server.dir() + "/tokens.json";
    auto store = std::shared_ptr<TokenStore>(NewFileTokenStore(token_file));
    AuthClient auth(Options(server.port()), store);
    std::vector<AuthEvent> heard;
    auth.AddListener([&](AuthEvent e) { heard.push_back(e); });

    auto user = auth.Register("ann@example.com", kPassword, "Ann");
    REQUIRE(user.ok());
    CHECK(user->email == "ann@example.com");
    CHECK(auth.CurrentUser()->id == user->id);
    struct stat st {};
    REQUIRE(::stat(token_file.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);

    // A second client on the same file is signed in as Ann.
    AuthClient again(Options(server.port()),
                     std::shared_ptr<TokenStore>(NewFileTokenStore(token_file)));
    CHECK(again.CurrentUser()->email == "ann@example.com");

    TasksClient tasks(auth);
    auto milk = tasks.Create({"buy milk", "semi-skimmed", std::nullopt, 2});
    REQUIRE(milk.ok());
    CHECK(milk->priority == 2);
    TaskChanges done;
    done.completed = true;
    CHECK(tasks.Update(milk->id, done)->completed);
    TaskQuery completed;
    completed.status = TaskFilter::kCompleted;
    CHECK(tasks.List(completed)->tasks.size() == 1);
    TaskQuery pending;
    pending.status = TaskFilter::kPending;
    CHECK(tasks.List(pending)->tasks.empty());
    CHECK(tasks.List()->tasks.size() == 1);
    CHECK(tasks.ClearCompleted().value() == 1);
    auto gone = tasks.Get(milk->id);
    REQUIRE_FALSE(gone.ok());
    CHECK(gone.status().code() == StatusCode::kNotFound);
    CHECK(gone.status().reason() == "not_found");
    CHECK_FALSE(RequestIdOf(gone.status()).empty());

    // Validation errors keep the server's code and field.
    auto bad = tasks.Create({""});
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().field() == "title");

    AgentClient agent(auth);
    auto reply = agent.Send("add call mom to my list");
    REQUIRE(reply.ok());
    CHECK(reply->message.role == assistant::MessageRole::kAssistant);
    ConversationsClient conversations(auth);
    CHECK(conversations.Rename(reply->conversation_id, "family")->title == "family");
    auto found = conversations.List("mom");
    REQUIRE(found.ok());
    REQUIRE(found->conversations.size() == 1);
    auto messages = conversations.Messages(reply->conversation_id);
    REQUIRE(messages.ok());
    REQUIRE(messages->messages.size() == 2);
    auto fork = conversations.Fork(reply->conversation_id, messages->messages[0].id);
    REQUIRE(fork.ok());
    CHECK(fork->title == "family (fork)");
    CHECK(conversations.Delete(fork->id).ok());

    CHECK(agent.PutState({{"step", 1}}).ok());
    CHECK(agent.PatchState({{"mood", "calm"}})->state ==
          assistant::Json{{"step", 1}, {"mood", "calm"}});
    auto fact = agent.AddMemory("likes tea");
    REQUIRE(fact.ok());
    CHECK(agent.Memories()->size() == 1);
    CHECK(agent.DeleteMemory(fact->id).ok());
    CHECK(agent.History(reply->conversation_id)->messages.size() == 2);

    CHECK(auth.Logout().ok());
    CHECK_FALSE(auth.SignedIn());
    CHECK(heard == std::vector<AuthEvent>{AuthEvent::kSignedIn, AuthEvent::kSignedOut});
    auto after = tasks.List();
    REQUIRE_FALSE(after.ok());
    CHECK(after.status().reason() == "signed_out");
  }

  TEST_CASE("the access token is refreshed before it expires, and once by eight threads") {
    ServerProcess server({"--access-token-ttl", "2"});
    REQUIRE(server.started());
    {
      AuthClient auth(Options(server.port(), std::chrono::milliseconds(1000)));
      REQUIRE(auth.Register("ann@example.com", kPassword).ok());
      std::this_thread::sleep_for(std::chrono::milliseconds(1200));
      REQUIRE(auth.CurrentUser().ok());  // within the margin: refreshed first
      CHECK(RefreshCount(auth) == 1);
    }
    {
      AuthClient auth(Options(server.port(), std::chrono::milliseconds(0)));
      REQUIRE(auth.Login("ann@example.com", kPassword).ok());
      std::this_thread::sleep_for(std::chrono::milliseconds(2300));  // now expired
      TasksClient tasks(auth);
      std::atomic<int> ok{0};
      std::vector<std::thread> threads;
      for (int i = 0; i < 8; ++i) {
        threads.emplace_back([&] {
          if (tasks.List().ok()) ++ok;
        });
      }
      for (auto& t : threads) t.join();
      CHECK(ok == 8);
      CHECK(RefreshCount(auth) == 2);  // the earlier client's one, and one more
    }
  }

  TEST_CASE("a 401 is answered by one refresh and a retry; a session ended elsewhere is heard") {
    ServerProcess server;
    REQUIRE(server.started());
    // A pair whose access token the server refuses but whose refresh token works.
    AuthClient first(Options(server.port()));
    REQUIRE(first.Register("ann@example.com", kPassword).ok());
    auto verified = first.Verify();
    REQUIRE(verified.ok());
    auto store = std::shared_ptr<TokenStore>(NewMemoryTokenStore());
    {
      AuthClient donor(Options(server.port()), store);
      REQUIRE(donor.Login("ann@example.com", kPassword).ok());
    }
    auto pair = store->Load();
    REQUIRE(pair.ok());
    TokenSet broken = **pair;
    broken.access_token = "not-a-token";
    REQUIRE(store->Save(broken).ok());
    AuthClient auth(Options(server.port()), store);
    auto me = auth.CurrentUser();
    REQUIRE(me.ok());
    CHECK(me->email == "ann@example.com");

    // Another device ends this session: the next call fails and says so.
    std::vector<AuthEvent> heard;
    auth.AddListener([&](AuthEvent e) { heard.push_back(e); });
    auto sessions = first.Call("GET", "/api/auth/sessions");
    REQUIRE(sessions.ok());
    auto claims = auth.Verify();
    REQUIRE(claims.ok());
    const std::string sid = (*claims)["claims"]["sid"];
    REQUIRE(first.Call("DELETE", "/api/auth/sessions/" + sid).ok());
    auto refused = auth.CurrentUser();
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.status().code() == StatusCode::kUnauthenticated);
    CHECK(heard == std::vector<AuthEvent>{AuthEvent::kSessionEnded});
    CHECK_FALSE(auth.SignedIn());
  }

  TEST_CASE("a stream cut mid-turn re-attaches and delivers every event exactly once") {
    ServerProcess server;
    REQUIRE(server.started());
    CuttingProxy proxy(server.port());
    AuthClient auth(Options(proxy.port()));
    REQUIRE(auth.Register("ann@example.com", kPassword).ok());
    AgentClient agent(auth);
    std::vector<StreamEvent> events;
    auto reply = agent.Stream("add water the plants to my list", [&](const StreamEvent& e) {
      events.push_back(e);
      return true;
    });
    REQUIRE(reply.ok());
    CHECK(proxy.cuts() == 1);
    REQUIRE(events.size() >= 5);
    for (size_t i = 0; i < events.size(); ++i) CHECK(events[i].id == static_cast<int64_t>(i + 1));
    CHECK(events.front().type == "message.start");
    CHECK(events.back().type == "message.done");
    CHECK(reply->message.status == assistant::MessageStatus::kCompleted);
    CHECK(reply->message.content.find("water the plants") != std::string::npos);
    CHECK(reply->message.id == events.front().data["message_id"]);

    // Attach from the middle replays the rest, once.
    std::vector<int64_t> later;
    REQUIRE(agent
                .Attach(reply->run_id, 3,
                        [&](const StreamEvent& e) {
                          later.push_back(e.id);
                          return true;
                        })
                .ok());
    REQUIRE(later.size() == events.size() - 3);
    CHECK(later.front() == 4);
  }

  TEST_CASE("stopping a stream cancels its run on the server") {
    fake_upstream::FakeUpstream fake("openai");
    fake_upstream::Reply slow;
    slow.body =
        fake_upstream::ReadFile(std::string(ASSISTANT_LLM_DATA_DIR) + "/openai_text_utf8.sse");
    slow.hold_after = 400;  // a model that stops talking mid-reply
    fake.Enqueue(slow);
    ServerProcess server({"--llm-provider", "openai", "--llm-base-url", fake.base_url(),
                          "--llm-model", "gpt-4o-mini"},
                         "", true, {{"ASSISTANT_LLM_API_KEY", "sk-test"}});
    REQUIRE(server.started());
    AuthClient auth(Options(server.port()));
    REQUIRE(auth.Register("ann@example.com", kPassword).ok());
    AgentClient agent(auth);
    auto reply = agent.Stream("tell me a story",
                              [](const StreamEvent& e) { return e.type != "message.delta"; });
    REQUIRE(reply.ok());
    CHECK(reply->message.status == assistant::MessageStatus::kCancelled);
    assistant::RunStatus status = assistant::RunStatus::kRunning;
    for (int i = 0; i < 50 && status != assistant::RunStatus::kCancelled; ++i) {
      auto run = agent.Run(reply->run_id);
      REQUIRE(run.ok());
      status = run->status;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK(status == assistant::RunStatus::kCancelled);
  }

  TEST_CASE("a server that is down or silent is a clear error, not a hang") {
    // Nobody listens on this port.
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    const int port = ntohs(a.sin_port);
    {
      AuthClient down(Options(port));
      auto r = down.Login("ann@example.com", kPassword);
      REQUIRE_FALSE(r.ok());
      CHECK(r.status().code() == StatusCode::kUnavailable);
      CHECK(r.status().reason() == "connection_failed");
    }
    // Listening, but never answering.
    REQUIRE(::listen(fd, 8) == 0);
    ClientOptions o = Options(port);
    o.read_timeout = std::chrono::milliseconds(500);
    AuthClient silent(o);
    const auto start = std::chrono::steady_clock::now();
    auto r = silent.Login("ann@example.com", kPassword);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == StatusCode::kDeadlineExceeded);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
    ::close(fd);
  }

TEST_CASE("examples/client_app signs in, streams a turn and lists the task it added") {
  ServerProcess server;
  REQUIRE(server.started());
  for (int run = 0; run < 2; ++run) {  // the second run logs in instead of registering
    const std::string out_file = server.dir() + "/client_app.out";
    const std::string cmd = std::string(ASSISTANT_CLIENT_APP_BIN) + " " + Url(server.port()) +
                            " > " + out_file + " 2>&1";
    REQUIRE(std::system(cmd.c_str()) == 0);
    std::ifstream in(out_file);
    std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(out.find("signed in as app@example.com") != std::string::npos);
    CHECK(out.find("[add_task]") != std::string::npos);
    CHECK(out.find("- book the dentist") != std::string::npos);
  }
}

}  // TEST_SUITE
