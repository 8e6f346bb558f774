// Tokens: feed addresses and API credentials. Only the SHA-256 of a secret is stored.
#include "base/crypto.hpp"
#include "store/store.hpp"

namespace dutyd {

namespace {

TokenRecord read_token(SQLite::Statement& q) {
  TokenRecord t;
  t.id = q.getColumn(0).getInt64();
  t.kind = q.getColumn(1).getString();
  t.subject_kind = q.getColumn(2).getString();
  t.subject = q.getColumn(3).getString();
  t.created_at = q.getColumn(4).getString();
  if (!q.getColumn(5).isNull()) t.revoked_at = q.getColumn(5).getString();
  t.note = q.getColumn(6).getString();
  return t;
}

constexpr const char* kTokenColumns =
    "id, kind, subject_kind, subject, created_at, revoked_at, note";

}  // namespace

std::pair<TokenRecord, std::string> Store::issue_token(const std::string& kind,
                                                       const std::string& subject_kind,
                                                       const std::string& subject,
                                                       const std::string& note,
                                                       const std::string& now) {
  // 160 random bits; feed tokens go into URLs, API tokens into Authorization headers.
  const std::string secret = (kind == "feed" ? "f" : "dutyd_") + base32(random_bytes(20));
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  SQLite::Statement ins(db_,
                        "INSERT INTO tokens(kind, subject_kind, subject, hash, created_at, note) "
                        "VALUES (?, ?, ?, ?, ?, ?)");
  ins.bind(1, kind);
  ins.bind(2, subject_kind);
  ins.bind(3, subject);
  ins.bind(4, sha256_hex(secret));
  ins.bind(5, now);
  ins.bind(6, note);
  ins.exec();
  TokenRecord t{db_.getLastInsertRowid(), kind, subject_kind, subject, now, std::nullopt, note};
  append_audit("cli", "token.issue", "token:" + std::to_string(t.id),
               kind + " " + subject_kind + (subject.empty() ? "" : " " + subject), now);
  tx.commit();
  return {t, secret};
}

std::optional<TokenRecord> Store::find_token(const std::string& secret) {
  SQLite::Statement q(db_, std::string("SELECT ") + kTokenColumns + " FROM tokens WHERE hash = ?");
  q.bind(1, sha256_hex(secret));
  if (!q.executeStep()) return std::nullopt;
  return read_token(q);
}

bool Store::revoke_token(std::int64_t id, const std::string& actor, const std::string& now) {
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  SQLite::Statement up(db_, "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL");
  up.bind(1, now);
  up.bind(2, id);
  if (up.exec() == 0) return false;
  append_audit(actor, "token.revoke", "token:" + std::to_string(id), "", now);
  tx.commit();
  return true;
}

std::vector<TokenRecord> Store::tokens() {
  std::vector<TokenRecord> out;
  SQLite::Statement q(db_, std::string("SELECT ") + kTokenColumns + " FROM tokens ORDER BY id");
  while (q.executeStep()) out.push_back(read_token(q));
  return out;
}

std::vector<std::pair<std::string, TokenRecord>> Store::tokens_with_hashes() {
  std::vector<std::pair<std::string, TokenRecord>> out;
  SQLite::Statement q(db_, std::string("SELECT ") + kTokenColumns + ", hash FROM tokens");
  while (q.executeStep()) out.emplace_back(q.getColumn(7).getString(), read_token(q));
  return out;
}

}  // namespace dutyd
