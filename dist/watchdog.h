// A thread that watches operations which must finish within a time limit (collectives): when one
// overruns, it calls the handler with the operation's name and how long it waited. The handler
// is expected to end the job (MPI_Abort / ncclCommAbort); a silent hang is never an outcome.
#pragma once
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace dasnet {

class Watchdog {
 public:
  using Handler = std::function<void(const std::string& operation, double waited_s)>;
  Watchdog(double timeout_s, Handler on_timeout);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
  double timeout_s() const { return timeout_s_; }

  // Arms the watchdog for the lifetime of the guard (several may be armed at once).
  class Guard {
   public:
    Guard(Watchdog& w, std::string operation);
    ~Guard();
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

   private:
    Watchdog& watchdog_;
    long id_;
  };

 private:
  using Clock = std::chrono::steady_clock;
  struct Armed {
    std::string operation;
    Clock::time_point start;
  };
  void loop();

  double timeout_s_;
  Handler on_timeout_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::map<long, Armed> armed_;
  long next_id_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace dasnet
