// Completion links: the signed address in a reminder that opens the completion form for one
// occurrence and one person until an expiry time (GET /complete, see http/form.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dutyd {

// BASE_URL/complete?o=UID&p=PERSON&x=EXPIRY&s=SIGNATURE, SIGNATURE an HMAC-SHA256 under `key`.
std::string completion_link(const std::string& base_url, const std::string& key,
                            const std::string& uid, const std::string& person, std::int64_t expiry);
// The signature of a link's parameters as they appear in it (the expiry as its decimal text).
std::string completion_link_signature(std::string_view key, std::string_view uid,
                                      std::string_view person, std::string_view expiry);

}  // namespace dutyd
