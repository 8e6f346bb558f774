// A Worker (base/worker.hpp) with a connection of its own to the store: what must not hold the
// event loop and needs the database — the scheduler's claims and results, its planning, the
// flagger's passes — runs there, in order, and answers on the loop.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "base/net.hpp"
#include "base/worker.hpp"
#include "store/store.hpp"

namespace dutyd {

class StoreWriter {
 public:
  // A task gets the writer's own connection and returns what the loop does with its result.
  using Task = std::function<Worker::Answer(Store&)>;

  // Opens the connection (throws StoreError like Store's constructor).
  StoreWriter(net::io_context& loop, const std::string& path, Worker::ErrorFn on_error)
      : store_(std::make_unique<Store>(path)), worker_(&loop, std::move(on_error)) {}

  // From the loop thread; `urgent` tasks run before those already waiting.
  void post(Task task, bool urgent = false) {
    worker_.post([this, task = std::move(task)] { return task(*store_); }, urgent);
  }
  std::size_t pending() const { return worker_.pending(); }

 private:
  std::unique_ptr<Store> store_;  // outlives the worker, which drains its tasks first
  Worker worker_;
};

}  // namespace dutyd
