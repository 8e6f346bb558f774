// The one header through which dutyd includes Asio and Beast. Boost 1.74 + GCC 12 + C++20 fail
// to compile asio/awaitable.hpp unless <utility> comes first.
#pragma once

#include <utility>

#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace dutyd {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
// A response body shared rather than copied: a cached feed is sent to many clients at once
// without copying its bytes for each (that copy was a fifth of the CPU serving feeds).
struct SharedBody {
  using value_type = std::shared_ptr<const std::string>;
  static std::uint64_t size(const value_type& v) { return v ? v->size() : 0; }
  class writer {
   public:
    using const_buffers_type = net::const_buffer;
    template <bool isRequest, class Fields>
    writer(const http::header<isRequest, Fields>&, const value_type& body) : body_(body) {}
    void init(beast::error_code& ec) { ec = {}; }
    boost::optional<std::pair<const_buffers_type, bool>> get(beast::error_code& ec) {
      ec = {};
      if (!body_ || body_->empty()) return boost::none;
      return std::pair<const_buffers_type, bool>{net::const_buffer(body_->data(), body_->size()),
                                                 false};
    }

   private:
    const value_type& body_;
  };
};

using Request = http::request<http::string_body>;
using Response = http::response<SharedBody>;
}  // namespace dutyd
