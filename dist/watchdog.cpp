#include "dist/watchdog.h"

#include <algorithm>

namespace dasnet {

Watchdog::Watchdog(double timeout_s, Handler on_timeout)
    : timeout_s_(timeout_s), on_timeout_(std::move(on_timeout)), thread_([this] { loop(); }) {}

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

Watchdog::Guard::Guard(Watchdog& w, std::string operation) : watchdog_(w) {
  std::lock_guard<std::mutex> lock(w.mutex_);
  id_ = w.next_id_++;
  w.armed_[id_] = {std::move(operation), Clock::now()};
}

Watchdog::Guard::~Guard() {
  std::lock_guard<std::mutex> lock(watchdog_.mutex_);
  watchdog_.armed_.erase(id_);
}

void Watchdog::loop() {
  // Check often enough that the overrun is noticed within ~10% of the limit (at most 1 s late).
  const auto period = std::chrono::duration<double>(std::clamp(timeout_s_ / 10, 0.05, 1.0));
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_) {
    cv_.wait_for(lock, period);
    if (stop_) break;
    const auto now = Clock::now();
    for (const auto& [id, armed] : armed_) {
      double waited = std::chrono::duration<double>(now - armed.start).count();
      if (waited > timeout_s_) {
        std::string operation = armed.operation;
        lock.unlock();
        on_timeout_(operation, waited);  // normally does not return
        return;
      }
    }
  }
}

}  // namespace dasnet
