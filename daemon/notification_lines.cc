#include "daemon/notification_lines.h"

namespace syncd {
namespace {
constexpr std::string_view kChangeHead =
    R"({"jsonrpc":"2.0","method":"change","params":{"subscription":)";
}

ChangeLine::ChangeLine(const ChangeEvent& change) {
  JsonDocument doc;
  auto& alloc = doc.GetAllocator();
  doc.SetObject();
  doc.AddMember("collection", json_string(change.collection, alloc), alloc);
  doc.AddMember("id", json_string(change.id, alloc), alloc);
  JsonValue data;
  if (change.data) {
    JsonDocument parsed;
    if (!parse_json(*change.data, parsed)) data.CopyFrom(parsed, alloc);
  }
  doc.AddMember("data", data, alloc);
  doc.AddMember("origin", rapidjson::StringRef(change.origin), alloc);
  // {"collection":...} becomes ,"collection":...}} after the id: the params object's
  // members, then the end of params and of the notification.
  std::string members = to_json(doc);
  rest_.reserve(members.size() + 1);
  rest_ += ',';
  rest_.append(members, 1);
  rest_ += '}';
}

size_t ChangeLine::bytes(std::string_view digits) const {
  return kChangeHead.size() + digits.size() + rest_.size() + 1;
}

void ChangeLine::append_to(OutputQueue& out, std::string_view digits) const {
  out.append(kChangeHead);
  out.append(digits);
  out.append(rest_);
  out.append("\n");
}

std::string gap_line(int64_t subscription, uint64_t missed) {
  return R"({"jsonrpc":"2.0","method":"gap","params":{"subscription":)" +
         std::to_string(subscription) + R"(,"missed":)" + std::to_string(missed) +
         R"(,"reason":"slow_reader"}})";
}

}  // namespace syncd
