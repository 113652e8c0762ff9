#pragma once
// Helpers shared by the unit tests: a temporary directory removed at the end, and a
// ready database (WAL, current schema) inside it.
#include <ftw.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

#include "store/schema.h"
#include "store/sqlite.h"

namespace syncd::testing {

// How much slower a sanitizer build runs (ASan in CI is a Debug build): time bounds in
// tests are multiplied by it.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr double kSlowBuild = 10;
#else
constexpr double kSlowBuild = 1;
#endif

// Milliseconds since `start`, for the time bounds above.
inline double elapsed_ms(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

class TempDir {
 public:
  TempDir() {
    const char* base = getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/syncd-test-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    if (kept_) return;
    nftw(
        path_.c_str(),
        [](const char* p, const struct stat*, int, struct FTW*) { return ::remove(p); }, 16,
        FTW_DEPTH | FTW_PHYS);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // Leaves the directory in place (for a failure to be looked at).
  void keep() { kept_ = true; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
  bool kept_ = false;
};

inline std::unique_ptr<Database> open_test_database(const std::string& path) {
  auto db = std::make_unique<Database>(path);
  prepare_database(*db, SyncMode::normal);
  return db;
}

}  // namespace syncd::testing
