#pragma once
// Thin RAII types over the SQLite C API: a connection, a prepared statement, and a
// transaction that rolls back unless committed. Every failing call throws SqliteError
// naming what was being done, so no return code goes unchecked.
#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace syncd {

class SqliteError : public std::runtime_error {
 public:
  SqliteError(int code, const std::string& what) : std::runtime_error(what), code_(code) {}
  int code() const { return code_; }
  // SQLITE_FULL: the disk (or the configured size limit) is full.
  bool is_full() const { return (code_ & 0xff) == SQLITE_FULL; }
  bool is_corrupt() const {
    return (code_ & 0xff) == SQLITE_CORRUPT || (code_ & 0xff) == SQLITE_NOTADB;
  }

 private:
  int code_;
};

class Statement;

// When a transaction's commit is on the disk. `deferred`: committed at
// synchronous=NORMAL, on the disk with the next full commit or checkpoint (a crash of
// syncd loses nothing; a power loss may undo it, never tear it), for work that is simply
// done again when undone: a lease, a push's results (resent, the server's dedupe
// answers), a pulled page (pulled again). It saves a WAL sync per commit on the loop.
enum class Durability { full, deferred };

// Process-wide SQLite settings; call before anything else uses SQLite (Database does).
void configure_sqlite_library();

// How long a statement waits for another connection's lock before SQLITE_BUSY.
inline constexpr int kBusyTimeoutMs = 5000;

class Database {
 public:
  // Opens (creating if needed) the file at `path`.
  explicit Database(const std::string& path);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  void exec(const char* sql);
  // The first column of the first row of `sql` as an integer (PRAGMAs, counts).
  int64_t query_int(const char* sql);
  sqlite3* handle() { return db_; }
  bool in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }
  const std::string& path() const { return path_; }
  [[noreturn]] void fail(int code, const std::string& doing);

  // PRAGMA synchronous: FULL (every commit syncs the WAL) or NORMAL.
  void set_synchronous_full(bool full);

  // BEGIN IMMEDIATE / COMMIT / ROLLBACK through statements prepared once (one of each per
  // group commit, so parsing them every time showed up in profiles).
  void begin(Durability durability = Durability::full);
  void commit();
  void rollback() noexcept;

  // A hook run before a transaction, or a statement outside one, starts on this
  // connection: JournaledWrites applies the acknowledged writes still in its journal, so
  // that whoever reads or writes the tables sees them. Reads that account for those
  // writes themselves (the write path, get, status) pass it with SkipSettle.
  void set_settle_hook(std::function<void()> hook) { settle_hook_ = std::move(hook); }
  void settle();
  class SkipSettle {
   public:
    explicit SkipSettle(Database& db) : db_(db) { ++db_.skip_settle_; }
    ~SkipSettle() { --db_.skip_settle_; }
    SkipSettle(const SkipSettle&) = delete;
    SkipSettle& operator=(const SkipSettle&) = delete;

   private:
    Database& db_;
  };

 private:
  std::function<void()> settle_hook_;
  int skip_settle_ = 0;
  bool settling_ = false;
  bool synchronous_full_ = false;
  bool deferred_open_ = false;  // NORMAL for the open transaction, FULL after it
  void end_deferred() noexcept;
  sqlite3* db_ = nullptr;
  std::string path_;
  std::unique_ptr<Statement> begin_;
  std::unique_ptr<Statement> commit_;
  std::unique_ptr<Statement> rollback_;
};

class Statement {
 public:
  Statement(Database& db, const char* sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, int64_t value);
  Statement& bind(int index, std::string_view value);
  Statement& bind(int index, const std::string& value) {
    return bind(index, std::string_view(value));
  }
  Statement& bind(int index, const std::optional<std::string>& value);
  Statement& bind_null(int index);
  // Advances to the next row; false when done. Resets automatically after the last row.
  bool step();
  // Runs a statement that returns no rows, then resets it.
  void run();
  void reset();

  int64_t column_int(int col) const;
  std::string column_text(int col) const;
  std::optional<std::string> column_optional_text(int col) const;
  bool column_is_null(int col) const;

 private:
  Database& db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// BEGIN IMMEDIATE ... COMMIT. When the connection is already inside a transaction the
// guard joins it and leaves commit or rollback to the outer owner.
class Transaction {
 public:
  explicit Transaction(Database& db, Durability durability = Durability::full);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Database& db_;
  bool owner_;
  bool done_ = false;
};

}  // namespace syncd
