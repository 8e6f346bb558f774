// HTTP/1.1 server on Beast 1.74 (patterns of its advanced_server example): one session per
// connection, bounded headers and bodies, timeouts on every read and write, a cap on open
// connections, graceful stop. Requests are handled synchronously on the event-loop thread by
// the handler, which owns all state.
#pragma once

#include <chrono>
#include <functional>
#include <list>
#include <memory>

#include "daemon/net.hpp"

namespace dutyd {

struct HttpLimits {
  std::size_t header_bytes = 8 * 1024;
  std::size_t body_bytes = 64 * 1024;
  std::chrono::seconds timeout{30};
  std::size_t max_connections = 1024;
};

using HttpHandler = std::function<Response(const Request&)>;

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
  void start();
  // Stops accepting and closes idle connections; requests in flight finish. run() then drains.
  void stop();
  tcp::endpoint endpoint() const;
  // Called with the status code of every response sent, including those the server itself
  // answers (oversized headers or bodies, unparsable requests).
  void set_observer(std::function<void(unsigned)> observer) { observer_ = std::move(observer); }
  std::size_t open_connections() const { return sessions_.size(); }

 private:
  friend class HttpSession;
  void accept();
  void forget(HttpSession* s);

  net::io_context& io_;
  tcp::acceptor acceptor_;
  HttpHandler handler_;
  HttpLimits limits_;
  std::function<void(unsigned)> observer_;
  net::steady_timer retry_timer_;
  std::list<std::weak_ptr<HttpSession>> sessions_;
  bool stopping_ = false;
};

// Small helpers shared by handlers.
Response make_response(const Request& req, http::status status, std::string body,
                       const std::string& content_type);

}  // namespace dutyd
