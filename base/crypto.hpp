// Small wrappers over OpenSSL's libcrypto (Debian libssl-dev) and getrandom(2): hashes for the
// audit chain and token storage, HMAC for signed completion links and robots' signatures, random
// secrets.
#pragma once

#include <string>
#include <string_view>

namespace dutyd {

std::string sha256_hex(std::string_view data);
// HMAC-SHA256 of `message` under `key`: the raw 32 bytes, or as lower-case hex. Throws
// std::runtime_error when OpenSSL fails.
std::string hmac_sha256(std::string_view key, std::string_view message);
std::string hmac_sha256_hex(std::string_view key, std::string_view message);
// `n` bytes from the kernel's CSPRNG; throws std::system_error when it cannot.
std::string random_bytes(std::size_t n);
// Lower-case RFC 4648 base32 without padding: URL- and shell-safe, case-insensitive to read.
std::string base32(std::string_view bytes);
// Compares secrets without leaking where they differ.
bool equal_constant_time(std::string_view a, std::string_view b);

}  // namespace dutyd
