// The one header through which dutyd includes Asio and Beast. Boost 1.74 + GCC 12 + C++20 fail
// to compile asio/awaitable.hpp unless <utility> comes first.
#pragma once

#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace dutyd {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;
}  // namespace dutyd
