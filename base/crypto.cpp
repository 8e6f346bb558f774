#include "base/crypto.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/sha.h>
#include <sys/random.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

namespace dutyd {
namespace {

std::string hex(const unsigned char* p, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 15];
  }
  return out;
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return hex(digest, sizeof digest);
}

// Every reminder's completion link and every robot's message is signed, on each sending worker:
// HMAC() fetches SHA-256 from OpenSSL's provider and sets the key up again on every call, which
// cost more than the rest of a message's rendering. Each thread keeps one keyed context and
// re-initialises it with the key it already holds (EVP_MAC_init with no key); a new key replaces
// it. Any failure takes the one-shot path.
namespace {
struct MacCache {
  EVP_MAC* mac = nullptr;
  EVP_MAC_CTX* ctx = nullptr;
  std::string key;
  bool keyed = false;
  ~MacCache() {
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
  }
};
}  // namespace

std::string hmac_sha256(std::string_view key, std::string_view message) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  // An empty message is legitimate (Feishu signs nothing with a derived key): pass a valid pointer.
  static const unsigned char kEmpty = 0;
  const auto* data =
      message.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(message.data());
  thread_local MacCache cache;
  if (!cache.ctx) {
    cache.mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (cache.mac) cache.ctx = EVP_MAC_CTX_new(cache.mac);
  }
  if (cache.ctx && !key.empty()) {
    bool ready = false;
    if (cache.keyed && cache.key == key) {
      ready = EVP_MAC_init(cache.ctx, nullptr, 0, nullptr) == 1;
    } else {
      char digest_name[] = "SHA256";
      const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest_name, 0),
                                   OSSL_PARAM_construct_end()};
      cache.keyed = false;
      ready = EVP_MAC_init(cache.ctx, reinterpret_cast<const unsigned char*>(key.data()),
                           key.size(), params) == 1;
      if (ready) cache.key = std::string(key), cache.keyed = true;
    }
    std::size_t len = 0;
    if (ready && EVP_MAC_update(cache.ctx, data, message.size()) == 1 &&
        EVP_MAC_final(cache.ctx, digest, &len, sizeof digest) == 1)
      return std::string(reinterpret_cast<const char*>(digest), len);
    cache.keyed = false;
  }
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data, message.size(), digest,
            &len))
    throw std::runtime_error("HMAC-SHA256 failed in OpenSSL");
  return std::string(reinterpret_cast<const char*>(digest), len);
}

std::string hmac_sha256_hex(std::string_view key, std::string_view message) {
  const std::string mac = hmac_sha256(key, message);
  return hex(reinterpret_cast<const unsigned char*>(mac.data()), mac.size());
}

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::getrandom(out.data() + got, n - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "getrandom");
    }
    got += static_cast<std::size_t>(r);
  }
  return out;
}

std::string base32(std::string_view bytes) {
  static const char* alphabet = "abcdefghijklmnopqrstuvwxyz234567";
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(buffer << (5 - bits)) & 31];
  return out;
}

bool equal_constant_time(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    diff = static_cast<unsigned char>(
        diff | (static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i])));
  return diff == 0;
}

}  // namespace dutyd
