// HMAC-SHA256 of base/crypto.hpp, which signs completion links: RFC 4231's test vectors, also
// when one thread switches keys and comes back (it keeps a keyed context per thread), and from
// several threads at once.
#include "base/crypto.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace dutyd {
namespace {

const std::string kJefe = "Jefe";
const std::string kJefeMessage = "what do ya want for nothing?";
const std::string kJefeMac = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
// RFC 4231 test case 1: a 20-byte key of 0x0b, "Hi There".
const std::string kCase1Key(20, '\x0b');
const std::string kCase1Mac = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7";
// Test case 6: a 131-byte key (longer than SHA-256's block: hashed first).
const std::string kCase6Key(131, '\xaa');
const std::string kCase6Message = "Test Using Larger Than Block-Size Key - Hash Key First";
const std::string kCase6Mac = "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54";

TEST(HmacSha256, Rfc4231VectorsAndKeySwitches) {
  for (int round = 0; round < 3; ++round) {
    EXPECT_EQ(hmac_sha256_hex(kJefe, kJefeMessage), kJefeMac);
    EXPECT_EQ(hmac_sha256_hex(kJefe, kJefeMessage), kJefeMac);  // the same key again
    EXPECT_EQ(hmac_sha256_hex(kCase1Key, "Hi There"), kCase1Mac);
    EXPECT_EQ(hmac_sha256_hex(kCase6Key, kCase6Message), kCase6Mac);
  }
  EXPECT_NE(hmac_sha256_hex(kJefe, kJefeMessage + "."), kJefeMac);
  EXPECT_EQ(hmac_sha256_hex(kJefe, "").size(), 64u);
  EXPECT_EQ(hmac_sha256_hex("", "x").size(), 64u);  // an empty key takes the one-shot path
}

TEST(HmacSha256, ThreadsEachGetTheRightMac) {
  std::vector<std::thread> threads;
  std::vector<int> wrong(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([t, &wrong] {
      for (int i = 0; i < 500; ++i) {
        if (hmac_sha256_hex(kJefe, kJefeMessage) != kJefeMac) ++wrong[t];
        if ((i + t) % 3 == 0 && hmac_sha256_hex(kCase1Key, "Hi There") != kCase1Mac) ++wrong[t];
      }
    });
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(wrong, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace dutyd
