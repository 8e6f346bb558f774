// HTTP/1.1 server on Beast 1.74 (patterns of its advanced_server example): one session per
// connection, bounded headers and bodies, timeouts on every read and write, a cap on open
// connections, graceful stop.
//
// Threads: the state's event loop (`io`) accepts and runs the handler, which owns all state.
// With I/O threads (set_io_threads), each connection lives on one of them (an io_context per
// thread, so a session needs no strand): reading, parsing and writing happen there, in
// parallel. A request goes first to the fast handler, on the I/O thread, which may answer from
// data it can read safely from any thread (a cached feed); otherwise it is posted to the event
// loop, and the response is posted back to the connection's thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "base/net.hpp"

namespace dutyd {

struct HttpLimits {
  std::size_t header_bytes = 8 * 1024;
  std::size_t body_bytes = 64 * 1024;
  std::chrono::seconds timeout{30};
  std::size_t max_connections = 1024;
};

using HttpHandler = std::function<Response(const Request&)>;
// Runs on I/O threads, concurrently: answers what it can without the state, else nullopt.
using FastHandler = std::function<std::optional<Response>(const Request&)>;
// Answers a request later, once, from any thread. Until it is called the connection waits (and
// keeps the server from finishing a stop).
using Responder = std::function<void(Response)>;
// On the event loop, before the handler: takes a request whose answer takes long to make (true),
// answering it later through the responder, or leaves it to the handler (false).
using DeferringHandler = std::function<bool(const Request&, Responder&)>;

class HttpSession;

class HttpServer {
 public:
  HttpServer(net::io_context& io, HttpHandler handler, HttpLimits limits = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds `host:port` (or "[v6]:port"); throws std::runtime_error saying what failed.
  void listen(const std::string& address);
  // Adopts a listening socket passed by systemd.
  void adopt(int fd);
  // Before start(): serve connections on `n` threads of their own (0: on `io` itself).
  void set_io_threads(std::size_t n);
  void set_fast_handler(FastHandler f) { fast_ = std::move(f); }
  void set_deferring_handler(DeferringHandler f) { deferring_ = std::move(f); }
  void start();
  // Stops accepting and closes idle connections; requests in flight finish. run() then drains.
  void stop();
  tcp::endpoint endpoint() const;
  // Called with the status code of every response sent, including those the server itself
  // answers (oversized headers or bodies, unparsable requests). On I/O threads, concurrently.
  void set_observer(std::function<void(unsigned)> observer) { observer_ = std::move(observer); }
  std::size_t open_connections() const {
    std::lock_guard lock(sessions_mutex_);
    return sessions_.size();
  }

 private:
  friend class HttpSession;
  void accept();
  void forget(HttpSession* s);

  using WorkGuard = net::executor_work_guard<net::io_context::executor_type>;

  net::io_context& io_;
  tcp::acceptor acceptor_;
  HttpHandler handler_;
  FastHandler fast_;
  DeferringHandler deferring_;
  HttpLimits limits_;
  std::function<void(unsigned)> observer_;
  net::steady_timer retry_timer_;
  std::vector<std::unique_ptr<net::io_context>> pools_;  // one per I/O thread
  std::vector<WorkGuard> pool_guards_;
  std::vector<std::thread> threads_;
  std::size_t next_pool_ = 0;
  // Keeps `io` running after stop() until the last connection is gone: a request in flight
  // on an I/O thread may still need the handler.
  std::optional<WorkGuard> io_guard_;
  mutable std::mutex sessions_mutex_;
  std::list<std::weak_ptr<HttpSession>> sessions_;
  std::atomic<bool> stopping_{false};
};

// Small helpers shared by handlers.
Response make_response(const Request& req, http::status status, std::string body,
                       const std::string& content_type);

}  // namespace dutyd
