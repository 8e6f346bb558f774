#include "notifiers/links.hpp"

#include "base/crypto.hpp"
#include "base/text.hpp"

namespace dutyd {

std::string completion_link_signature(std::string_view key, std::string_view uid,
                                      std::string_view person, std::string_view expiry) {
  std::string message;
  message.append(uid).append("\n").append(person).append("\n").append(expiry);
  return hmac_sha256_hex(key, message);
}

std::string completion_link(const std::string& base_url, const std::string& key,
                            const std::string& uid, const std::string& person,
                            std::int64_t expiry) {
  const std::string x = std::to_string(expiry);
  return base_url + "/complete?o=" + percent_encode(uid) + "&p=" + percent_encode(person) +
         "&x=" + x + "&s=" + completion_link_signature(key, uid, person, x);
}

}  // namespace dutyd
