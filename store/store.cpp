// The Store's connection: opening and migrating the database, prepared statements, small
// daemon state (meta) and the data version. Each table family has its own file in store/.
#include "store/store.hpp"

#include <SQLiteCpp/VariadicBind.h>

#include "base/crypto.hpp"

namespace dutyd {

namespace {

SQLite::Database open(const std::string& path) {
  try {
    SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.setBusyTimeout(10000);
    return db;
  } catch (const SQLite::Exception& e) {
    throw StoreError("cannot open database " + path + ": " + e.what() +
                     " — check that the folder exists and is writable by dutyd");
  }
}

}  // namespace

Store::Store(const std::string& path) : db_(open(path)), path_(path) {
  try {
    migrate();
  } catch (const SQLite::Exception& e) {
    throw StoreError(
        "database " + path + " cannot be used: " + e.what() +
        " — is it a dutyd database? Point [daemon] database elsewhere or restore a backup");
  }
}

// Prepared on first use and kept with the connection (SQLite prepares it again by itself after a
// schema change). Handed out reset and without bindings: a use cut short by an exception leaves
// nothing behind for the next one.
SQLite::Statement& Store::statement(std::string_view sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end())
    it = statements_
             .emplace(std::string(sql), std::make_unique<SQLite::Statement>(db_, std::string(sql)))
             .first;
  SQLite::Statement& q = *it->second;
  q.reset();
  q.clearBindings();
  return q;
}

std::optional<std::string> Store::meta(const std::string& key) {
  SQLite::Statement q(db_, "SELECT value FROM meta WHERE key = ?");
  q.bind(1, key);
  if (!q.executeStep()) return std::nullopt;
  return q.getColumn(0).getString();
}

void Store::set_meta(const std::string& key, const std::string& value) {
  SQLite::Statement q(db_,
                      "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET "
                      "value = excluded.value");
  SQLite::bind(q, key, value);
  q.exec();
}

std::string Store::link_key(const std::string& now) {
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  SQLite::Statement q(db_, "SELECT value FROM meta WHERE key = 'link_key'");
  if (q.executeStep()) return q.getColumn(0).getString();
  const std::string key = base32(random_bytes(32));
  SQLite::Statement ins(db_, "INSERT INTO meta(key, value) VALUES ('link_key', ?)");
  ins.bind(1, key);
  ins.exec();
  append_audit("dutyd", "link_key.create", "meta:link_key", "", now);
  tx.commit();
  return key;
}

std::int64_t Store::data_version() {
  if (!data_version_query_)
    data_version_query_ = std::make_unique<SQLite::Statement>(db_, "PRAGMA data_version");
  data_version_query_->executeStep();
  const std::int64_t v = data_version_query_->getColumn(0).getInt64();
  // Reset at once: a stepped statement holds a read transaction whose stale snapshot would
  // make this connection's next write fail with "database is locked".
  data_version_query_->reset();
  return v;
}

}  // namespace dutyd
