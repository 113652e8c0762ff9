#include "store/sqlite.h"

#include <mutex>

namespace syncd {

void configure_sqlite_library() {
  static std::once_flag once;
  std::call_once(once, [] {
    // No allocation statistics: they take a global mutex on every allocation, which the
    // loop and the journal applier would share (seen in the applier's profile). Only
    // possible before SQLite initialises; later it is refused and changes nothing.
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  });
}

Database::Database(const std::string& path) : path_(path) {
  configure_sqlite_library();
  int rc =
      sqlite3_open_v2(path.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    throw SqliteError(rc, "cannot open database " + path + ": " + message);
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, kBusyTimeoutMs);
}

Database::~Database() {
  begin_.reset();
  commit_.reset();
  rollback_.reset();
  sqlite3_close(db_);
}

void Database::settle() {
  if (!settle_hook_ || skip_settle_ > 0 || settling_) return;
  settling_ = true;  // the hook itself uses this connection
  try {
    settle_hook_();
  } catch (...) {
    settling_ = false;
    throw;
  }
  settling_ = false;
}

void Database::set_synchronous_full(bool full) {
  exec(full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  synchronous_full_ = full;
}

void Database::begin(Durability durability) {
  settle();
  if (durability == Durability::deferred && synchronous_full_) {
    // Outside a transaction, for the one that follows; put back when it ends.
    sqlite3_exec(db_, "PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr);
    deferred_open_ = true;
  }
  if (!begin_) begin_ = std::make_unique<Statement>(*this, "BEGIN IMMEDIATE");
  try {
    begin_->run();
  } catch (...) {
    end_deferred();
    throw;
  }
}

void Database::commit() {
  if (!commit_) commit_ = std::make_unique<Statement>(*this, "COMMIT");
  try {
    commit_->run();
  } catch (...) {
    if (!in_transaction()) end_deferred();  // else the rollback ends it
    throw;
  }
  end_deferred();
}

void Database::rollback() noexcept {
  // A failed COMMIT may already have rolled back; then there is nothing to undo.
  if (in_transaction()) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  end_deferred();
}

void Database::end_deferred() noexcept {
  if (!deferred_open_) return;
  sqlite3_exec(db_, "PRAGMA synchronous=FULL", nullptr, nullptr, nullptr);
  deferred_open_ = false;
}

void Database::fail(int code, const std::string& doing) {
  throw SqliteError(code, doing + ": " + sqlite3_errmsg(db_) + " (" + path_ + ")");
}

void Database::exec(const char* sql) {
  if (!in_transaction()) settle();
  char* error = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    std::string message = error ? error : sqlite3_errstr(rc);
    sqlite3_free(error);
    throw SqliteError(rc, std::string("sqlite: ") + message + " in: " + sql + " (" + path_ + ")");
  }
}

int64_t Database::query_int(const char* sql) {
  Statement stmt(*this, sql);
  if (!stmt.step()) return 0;
  int64_t value = stmt.column_int(0);
  stmt.reset();
  return value;
}

Statement::Statement(Database& db, const char* sql) : db_(db) {
  int rc = sqlite3_prepare_v3(db.handle(), sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
  if (rc != SQLITE_OK) db_.fail(rc, std::string("prepare \"") + sql + "\"");
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::bind(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) db_.fail(rc, "bind integer");
  return *this;
}

Statement& Statement::bind(int index, std::string_view value) {
  // An empty view may have a null data(), which SQLite would bind as NULL, not as ''.
  int rc = sqlite3_bind_text(stmt_, index, value.data() ? value.data() : "",
                             static_cast<int>(value.size()), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) db_.fail(rc, "bind text");
  return *this;
}

Statement& Statement::bind(int index, const std::optional<std::string>& value) {
  return value ? bind(index, std::string_view(*value)) : bind_null(index);
}

Statement& Statement::bind_null(int index) {
  int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK) db_.fail(rc, "bind null");
  return *this;
}

bool Statement::step() {
  if (!sqlite3_stmt_busy(stmt_) && !db_.in_transaction()) db_.settle();
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) {
    reset();
    return false;
  }
  std::string sql = sqlite3_sql(stmt_);
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  db_.fail(rc, "step \"" + sql + "\"");
}

void Statement::run() {
  while (step()) {
  }
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t Statement::column_int(int col) const { return sqlite3_column_int64(stmt_, col); }

std::string Statement::column_text(int col) const {
  const unsigned char* text = sqlite3_column_text(stmt_, col);
  int size = sqlite3_column_bytes(stmt_, col);
  return text ? std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(size))
              : std::string();
}

std::optional<std::string> Statement::column_optional_text(int col) const {
  if (column_is_null(col)) return std::nullopt;
  return column_text(col);
}

bool Statement::column_is_null(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

Transaction::Transaction(Database& db, Durability durability)
    : db_(db), owner_(!db.in_transaction()) {
  if (owner_) db_.begin(durability);
}

Transaction::~Transaction() {
  if (owner_ && !done_) db_.rollback();
}

void Transaction::commit() {
  if (owner_ && !done_) db_.commit();
  done_ = true;
}

}  // namespace syncd
