#include "sync/sync_counters.h"

namespace syncd {

Histogram SyncCounters::latency_histogram() {
  return Histogram({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30});
}

const char* SyncCounters::outcome_of(const Answer& answer) {
  switch (answer.kind) {
    case AnswerKind::ok:
      return "ok";
    case AnswerKind::retryable:
      return answer.unreachable ? "unreachable" : "retryable";
    case AnswerKind::rejected:
      return "rejected";
    case AnswerKind::unauthorised:
      return "unauthorised";
  }
  return "retryable";
}

}  // namespace syncd
