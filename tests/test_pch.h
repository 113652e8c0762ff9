// The headers nearly every test file includes, precompiled once per test binary
// (tests/CMakeLists.txt): gtest and RapidJSON's templates were most of each test file's
// compile time, and the suite is built three times in CI.
#pragma once

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>
