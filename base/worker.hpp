// The one way dutyd runs work off its event loop: a Worker is a thread that runs tasks one at a
// time, in the order given (urgent ones first), and hands what each one found back to the loop.
// Planning, the store writers, flag passes, reports and reloads each have one; only the sending
// workers, which wait on their own libcurl multi handles, are threads of their own
// (reminders/sending.cpp).
//
// A task runs on the worker's thread and returns its answer: what the loop is to do with the
// result (or nothing). The answer runs on the loop, which a worker keeps running (a work guard)
// while tasks are pending, so that a stop drains them before io_context::run() returns. A task
// that throws, or an answer that throws, is reported through `on_error` on the loop; nothing
// escapes.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "base/net.hpp"

namespace dutyd {

class Worker {
 public:
  using Answer = std::function<void()>;
  using Task = std::function<Answer()>;
  using ErrorFn = std::function<void(const std::string& what)>;

  // `loop`: where answers and errors run; null for a worker whose tasks answer by themselves
  // (their Answer must be empty; errors are then reported on the worker's thread).
  Worker(net::io_context* loop, ErrorFn on_error);
  // Runs the tasks still queued (their answers are dropped when the loop has ended), then ends
  // the thread.
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // From the loop thread.
  void post(Task task, bool urgent = false);
  // Tasks posted and not yet answered (the one running included); any thread.
  std::size_t pending() const { return pending_; }

 private:
  void run();
  void done();  // a task's answer has run (or there was none)

  net::io_context* loop_;
  ErrorFn on_error_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Task> tasks_;
  bool stop_ = false;
  std::atomic<std::size_t> pending_{0};
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_;  // loop side
  std::thread thread_;
};

}  // namespace dutyd
