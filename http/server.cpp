#include "http/server.hpp"

#include <sys/socket.h>

#include <atomic>
#include <iostream>
#include <optional>

namespace dutyd {

Response make_response(const Request& req, http::status status, std::string body,
                       const std::string& content_type) {
  Response res{status, req.version()};
  res.set(http::field::server, "dutyd");
  res.set(http::field::content_type, content_type);
  res.keep_alive(req.keep_alive());
  res.body() = std::make_shared<const std::string>(std::move(body));
  res.prepare_payload();
  return res;
}

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(HttpServer& server, tcp::socket socket)
      : server_(server), stream_(std::move(socket)), grace_(stream_.get_executor()) {}

  void start() { read(); }
  net::any_io_executor executor() { return stream_.get_executor(); }

  // Called on stop: an idle connection closes now; one whose request has begun to arrive, or
  // whose response is being written, finishes first (bounded by the timeouts).
  void stop() {
    stopping_ = true;
    const bool idle = reading_ && buffer_.size() == 0 && !(parser_ && parser_->got_some());
    if (idle) return abort();
    // A request still arriving gets a short grace period, not the full read timeout, so that
    // a slow or stalled client cannot hold up the exit.
    grace_.expires_after(std::chrono::seconds(3));
    grace_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec && self->reading_) self->abort();
    });
  }

  void abort() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

  std::list<std::weak_ptr<HttpSession>>::iterator self_entry;

 private:
  void read() {
    if (stopping_) return close();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_.limits_.header_bytes));
    parser_->body_limit(server_.limits_.body_bytes);
    stream_.expires_after(server_.limits_.timeout);
    reading_ = true;
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    reading_ = false;
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset ||
        ec == net::error::bad_descriptor)
      return close();
    if (ec == http::error::header_limit)
      return reject(http::status::request_header_fields_too_large, "请求头过大\n");
    if (ec == http::error::body_limit)
      return reject(http::status::payload_too_large, "请求体过大\n");
    if (ec) return reject(http::status::bad_request, "无法解析的请求\n");
    if (server_.fast_) {
      std::optional<Response> fast;
      try {
        fast = server_.fast_(parser_->get());
      } catch (const std::exception& e) {
        std::cerr << "<3>request handler failed: " << e.what() << "\n";
      }
      if (fast) return write(std::move(*fast));
    }
    if (on_state_thread()) {
      if (!deferred()) write(handle());
      return;
    }
    // The event loop handles it; the request stays in parser_, untouched here meanwhile.
    net::post(server_.io_, [self = shared_from_this()] {
      if (self->deferred()) return;
      Response res = self->handle();
      net::post(self->stream_.get_executor(),
                [self, res = std::move(res)]() mutable { self->write(std::move(res)); });
    });
  }

  // On the event loop: whether the deferring handler took the request. Its responder keeps the
  // connection's I/O thread running (a work guard) until the answer is written there.
  bool deferred() {
    if (!server_.deferring_) return false;
    auto guard =
        std::make_shared<net::executor_work_guard<net::any_io_executor>>(stream_.get_executor());
    auto answered = std::make_shared<std::atomic<bool>>(false);
    Responder respond = [self = shared_from_this(), guard, answered](Response res) {
      if (answered->exchange(true)) return;  // once only
      net::post(self->stream_.get_executor(), [self, guard, res = std::move(res)]() mutable {
        self->write(std::move(res));
        guard->reset();
      });
    };
    try {
      return server_.deferring_(parser_->get(), respond);
    } catch (const std::exception& e) {
      std::cerr << "<3>request handler failed: " << e.what() << "\n";
      respond(make_response(parser_->get(), http::status::internal_server_error, "服务器内部错误\n",
                            "text/plain; charset=utf-8"));
      return true;
    }
  }

  bool on_state_thread() const { return server_.pools_.empty(); }

  // On the event loop.
  Response handle() {
    try {
      return server_.handler_(parser_->get());
    } catch (const std::exception& e) {
      // No exception may escape a completion handler: answer 500 and keep serving.
      std::cerr << "<3>request handler failed: " << e.what() << "\n";
      return make_response(parser_->get(), http::status::internal_server_error, "服务器内部错误\n",
                           "text/plain; charset=utf-8");
    }
  }

  void reject(http::status status, const char* text) {
    Request dummy;
    dummy.version(11);
    dummy.keep_alive(false);
    Response res = make_response(dummy, status, text, "text/plain; charset=utf-8");
    res.keep_alive(false);
    write(std::move(res));
  }

  void write(Response res) {
    if (server_.observer_) server_.observer_(res.result_int());
    response_ = std::make_shared<Response>(std::move(res));
    if (stopping_) response_->keep_alive(false);
    stream_.expires_after(server_.limits_.timeout);
    http::async_write(stream_, *response_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        const bool again = !ec && self->response_->keep_alive();
                        self->response_.reset();
                        if (again)
                          self->read();
                        else
                          self->close();
                      });
  }

  void close() {
    grace_.cancel();
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.socket().close(ec);
    server_.forget(this);
  }

  HttpServer& server_;
  beast::tcp_stream stream_;
  net::steady_timer grace_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<Response> response_;
  bool reading_ = false;
  bool stopping_ = false;
  bool forgotten_ = false;
  friend class HttpServer;
};

HttpServer::HttpServer(net::io_context& io, HttpHandler handler, HttpLimits limits)
    : io_(io), acceptor_(io), handler_(std::move(handler)), limits_(limits), retry_timer_(io) {}

HttpServer::~HttpServer() {
  pool_guards_.clear();
  for (auto& pool : pools_) pool->stop();  // connections left at exit are dropped
  for (auto& t : threads_) t.join();
}

void HttpServer::listen(const std::string& address) {
  std::string host = address, port;
  if (const auto colon = address.rfind(':'); colon != std::string::npos) {
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  beast::error_code ec;
  const auto ip = net::ip::make_address(host, ec);
  if (ec)
    throw std::runtime_error("listen address '" + address +
                             "' is not an IP address — use e.g. 127.0.0.1:8088");
  const tcp::endpoint ep{ip, static_cast<unsigned short>(std::stoi(port))};
  acceptor_.open(ep.protocol());
  acceptor_.set_option(net::socket_base::reuse_address(true));
  acceptor_.bind(ep, ec);
  if (ec)
    throw std::runtime_error("cannot listen on " + address + ": " + ec.message() +
                             " — is another process using the port?");
  acceptor_.listen(net::socket_base::max_listen_connections);
}

void HttpServer::adopt(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  acceptor_.assign(ss.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), fd);
}

tcp::endpoint HttpServer::endpoint() const {
  return acceptor_.local_endpoint();
}

void HttpServer::set_io_threads(std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    pools_.push_back(std::make_unique<net::io_context>(1));
    pool_guards_.push_back(net::make_work_guard(*pools_.back()));
  }
}

void HttpServer::start() {
  io_guard_.emplace(net::make_work_guard(io_));
  for (auto& pool : pools_) threads_.emplace_back([&ctx = *pool] { ctx.run(); });
  accept();
}

void HttpServer::accept() {
  // Each session belongs to one io_context run by one thread: no strand needed.
  net::io_context& home = pools_.empty() ? io_ : *pools_[next_pool_++ % pools_.size()];
  acceptor_.async_accept(home, [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == net::error::operation_aborted || stopping_) return;
      // Out of file descriptors (EMFILE) and the like: retrying at once would spin at full
      // CPU while the condition lasts. Back off briefly; open connections keep being served.
      std::cerr << "<4>accept failed: " << ec.message() << "; retrying in 100 ms\n";
      retry_timer_.expires_after(std::chrono::milliseconds(100));
      retry_timer_.async_wait([this](beast::error_code wec) {
        if (!wec && !stopping_) accept();
      });
      return;
    } else if (open_connections() >= limits_.max_connections) {
      beast::error_code ignored;
      socket.close(ignored);  // over the cap: refuse rather than queue without bound
    } else {
      auto s = std::make_shared<HttpSession>(*this, std::move(socket));
      {
        std::lock_guard lock(sessions_mutex_);
        sessions_.push_front(s);
        s->self_entry = sessions_.begin();
      }
      net::dispatch(s->executor(), [s] { s->start(); });
    }
    if (!stopping_) accept();
  });
}

void HttpServer::forget(HttpSession* s) {
  bool last = false;
  {
    std::lock_guard lock(sessions_mutex_);
    if (s->forgotten_) return;
    s->forgotten_ = true;
    sessions_.erase(s->self_entry);
    last = stopping_ && sessions_.empty();
  }
  if (last) net::post(io_, [this] { io_guard_.reset(); });
}

void HttpServer::stop() {
  stopping_ = true;
  beast::error_code ec;
  acceptor_.close(ec);
  retry_timer_.cancel();
  pool_guards_.clear();  // the I/O threads end once their connections are gone
  std::vector<std::shared_ptr<HttpSession>> live;
  {
    std::lock_guard lock(sessions_mutex_);
    for (auto& w : sessions_)
      if (auto s = w.lock()) live.push_back(s);
    if (live.empty()) io_guard_.reset();
  }
  for (auto& s : live) net::dispatch(s->executor(), [s] { s->stop(); });
}

}  // namespace dutyd
