#include "base/worker.hpp"

#include <exception>

namespace dutyd {

Worker::Worker(net::io_context* loop, ErrorFn on_error)
    : loop_(loop), on_error_(std::move(on_error)), thread_([this] { run(); }) {}

Worker::~Worker() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Worker::post(Task task, bool urgent) {
  if (pending_++ == 0 && loop_) work_.emplace(net::make_work_guard(*loop_));
  {
    std::lock_guard lock(mutex_);
    if (urgent)
      tasks_.push_front(std::move(task));
    else
      tasks_.push_back(std::move(task));
  }
  cv_.notify_one();
}

void Worker::done() {
  if (--pending_ == 0 && loop_) work_.reset();
}

void Worker::run() {
  for (;;) {
    Task task;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [&] { return stop_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // stopping and nothing left
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    Answer answer;
    try {
      answer = task();
    } catch (const std::exception& e) {
      answer = [this, what = std::string(e.what())] { on_error_(what); };
    }
    task = nullptr;  // what the task held goes before its answer runs
    if (!loop_) {
      if (answer) answer();  // only an error's: tasks of a worker without a loop answer themselves
      done();
      continue;
    }
    net::post(*loop_, [this, answer = std::move(answer)] {
      try {
        if (answer) answer();
      } catch (const std::exception& e) {
        on_error_(e.what());
      }
      done();
    });
  }
}

}  // namespace dutyd
