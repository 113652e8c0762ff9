#pragma once
// HTTP as the sync engine sees it: send a request, get a response (or a transport
// error) in a callback on the loop. An interface so sync logic can be tested with a
// fake; CurlTransport is the real one.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace syncd {

struct HttpRequest {
  std::string method = "GET";  // GET or POST
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
  // A stream (Server-Sent Events, JSON lines): a 200 answer's body goes to on_chunk as it
  // arrives instead of into the response; only the connect timeout applies, TCP keepalive
  // finds a dead peer, and no compression is asked for (a compressor holds small writes).
  // on_chunk returns false to end the stream (the request then fails).
  std::function<bool(std::string_view)> on_chunk;
};

struct HttpResponse {
  int status = 0;  // 0: no HTTP response (see error)
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string error;  // transport failure: "connect to 127.0.0.1:8787 refused", timeouts...
  bool timed_out = false;
  bool connect_failed = false;  // no connection was made (refused, DNS, TCP connect timeout)
  bool too_large = false;       // cut at the body cap (http.max_response_bytes)

  bool transport_failed() const { return status == 0; }
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class HttpTransport {
 public:
  using Callback = std::function<void(HttpResponse)>;
  virtual ~HttpTransport() = default;
  // Starts the request; `done` runs later on the loop, exactly once, unless cancelled.
  virtual void send(HttpRequest request, Callback done) = 0;
  // Drops every request in flight without calling their callbacks.
  virtual void cancel_all() = 0;
  virtual size_t in_flight() const = 0;
};

}  // namespace syncd
