#pragma once
// The remote's change-hint stream (Server-Sent Events, /v1/events in protocol v1; or JSON
// lines, CouchDB's continuous _changes), which says when there is something to pull: opened
// while syncd is online, reopened after it ends.
// It is a hint, so nothing it sends may cost much: the parser bounds lines and events and refuses
// what is not an event stream, more than the stream's max_bytes_per_second is a flood, and either
// ends the stream; each stream that ends early or badly waits longer before the next (backoff, at
// least kReopenMs), a long healthy one resets that. A server without the endpoint (any answer but
// 200) is asked again after kUnsupportedRetryMs.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "sync/backoff.h"
#include "sync/http_transport.h"
#include "sync/remote_protocol.h"
#include "sync/sse_parser.h"
#include "util/clock.h"

namespace syncd {

class EventStream {
 public:
  static constexpr int64_t kReopenMs = 1000;
  static constexpr int64_t kHealthyMs = 30000;  // a stream open this long was a good one
  static constexpr int64_t kUnsupportedRetryMs = 60000;

  // on_changed: a hint arrived (the protocol's event, or a line). on_closed: the stream ended;
  // `error` says why when syncd ended it ("" when the server or the network did).
  EventStream(HttpTransport& http, const Clock& clock, Backoff& backoff,
              std::function<void()> on_changed,
              std::function<void(const std::string& error)> on_closed);

  bool is_open() const { return open_; }
  // Monotonic ms at which a closed stream may be opened again.
  int64_t reopen_at_ms() const { return reopen_at_ms_; }
  // Opens it (the protocol's request, with the auth headers).
  void open(ChangeHintStream stream);
  // The next open may happen at once (after a token refresh).
  void allow_reopen_now() { reopen_at_ms_ = 0; }
  // The last stream was answered 401: its credentials were refused.
  bool unauthorised() const { return unauthorised_; }

 private:
  bool take(std::string_view bytes);
  void closed(const HttpResponse& response);

  HttpTransport& http_;
  const Clock& clock_;
  Backoff& backoff_;
  std::function<void()> on_changed_;
  std::function<void(const std::string&)> on_closed_;
  // The parser of the stream's framing: nullopt while the bytes are well-formed.
  std::function<std::optional<std::string>(std::string_view)> parse_;
  bool open_ = false;
  int64_t opened_at_ms_ = 0;
  int64_t reopen_at_ms_ = 0;
  int64_t failures_ = 0;  // streams in a row that ended early or badly
  int64_t window_start_ms_ = 0;
  int64_t window_bytes_ = 0;
  int64_t max_bytes_per_second_ = 0;  // the open stream's
  std::string error_;                 // why syncd ended the current stream
  bool unauthorised_ = false;
};

}  // namespace syncd
