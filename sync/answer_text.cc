#include "sync/answer_text.h"

#include "sync/server_text.h"

namespace syncd {

std::string describe_answer(const HttpResponse& r, const std::string& url_key,
                            const std::string& missing) {
  std::string text = "HTTP " + std::to_string(r.status);
  if (r.status >= 300 && r.status <= 399) {
    const std::string location = r.header("location");
    text += " (a redirect" + (location.empty() ? "" : " to " + server_text(location, 200)) +
            "; syncd does not follow redirects: set " + url_key + " to the server's own URL)";
  } else if (r.status == 404 || r.status == 405 || r.status == 410) {
    text += " (" + missing + ")";
  }
  if (!r.body.empty()) text += ": " + server_text(r.body);
  return text;
}

}  // namespace syncd
