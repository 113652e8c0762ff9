#include "sync/event_stream.h"

#include <algorithm>

#include "sync/line_hints.h"

namespace syncd {

EventStream::EventStream(HttpTransport& http, const Clock& clock, Backoff& backoff,
                         std::function<void()> on_changed,
                         std::function<void(const std::string&)> on_closed)
    : http_(http),
      clock_(clock),
      backoff_(backoff),
      on_changed_(std::move(on_changed)),
      on_closed_(std::move(on_closed)) {}

void EventStream::open(ChangeHintStream stream) {
  HttpRequest request = std::move(stream.request);
  open_ = true;
  error_.clear();
  opened_at_ms_ = window_start_ms_ = clock_.monotonic_ms();
  window_bytes_ = 0;
  max_bytes_per_second_ = stream.max_bytes_per_second;
  if (stream.framing == ChangeHintStream::Framing::json_lines) {
    auto lines = std::make_shared<LineHints>([this] { on_changed_(); });
    parse_ = [lines](std::string_view bytes) { return lines->feed(bytes); };
  } else {
    auto sse =
        std::make_shared<SseParser>([this, hint = std::move(stream.event)](const SseEvent& event) {
          if (event.type == hint) on_changed_();
        });
    parse_ = [sse](std::string_view bytes) { return sse->feed(bytes); };
    request.headers.push_back("Accept: text/event-stream");
  }
  request.on_chunk = [this](std::string_view bytes) { return take(bytes); };
  http_.send(std::move(request), [this](HttpResponse response) { closed(response); });
}

bool EventStream::take(std::string_view bytes) {
  const int64_t now = clock_.monotonic_ms();
  if (now - window_start_ms_ >= 1000) {
    window_start_ms_ = now;
    window_bytes_ = 0;
  }
  window_bytes_ += static_cast<int64_t>(bytes.size());
  if (window_bytes_ > max_bytes_per_second_) {
    error_ = "more than " + std::to_string(max_bytes_per_second_) + " bytes in a second (a flood)";
    return false;
  }
  if (auto error = parse_(bytes)) {
    error_ = "not an event stream: " + *error;
    return false;
  }
  return true;
}

void EventStream::closed(const HttpResponse& response) {
  open_ = false;
  unauthorised_ = response.status == 401;
  const int64_t now = clock_.monotonic_ms();
  if (!response.transport_failed() && response.status != 200) {
    // No event stream there: pulls alone keep syncd up to date.
    reopen_at_ms_ = now + kUnsupportedRetryMs;
    on_closed_("");
    return;
  }
  const bool good = error_.empty() && now - opened_at_ms_ >= kHealthyMs;
  failures_ = good ? 0 : failures_ + 1;
  int64_t delay = kReopenMs;
  if (failures_ > 1) delay = std::max(delay, backoff_.ceiling_ms(static_cast<int>(failures_)));
  reopen_at_ms_ = now + delay;
  // A cut stream is the network's doing (pushes and pulls report that); one syncd ended
  // is the server's, and is named.
  on_closed_(error_.empty()
                 ? std::string()
                 : "event stream: " + error_ + "; reopened in " + std::to_string(delay) + " ms");
}

}  // namespace syncd
