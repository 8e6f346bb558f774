// Runs a loop body on this thread and one helper: derivation and storing are CPU-bound and
// the daemon's machines have two cores (the event loop keeps serving meanwhile from the
// snapshot it holds, so there is no point in more threads than cores).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <thread>

namespace dutyd {

// work(i) for every i in [0, n), each exactly once. Indices are handed out in chunks by an
// atomic counter, so a few large organisations do not leave one thread idle; `work` must only
// write what belongs to its own i. The first exception thrown is rethrown after both threads
// have stopped.
template <typename Work>
void parallel_for(std::size_t n, Work&& work, std::size_t chunk = 32) {
  std::atomic<std::size_t> next{0};
  std::exception_ptr failures[2];
  auto run = [&](std::exception_ptr& failure) {
    try {
      for (;;) {
        const std::size_t start = next.fetch_add(chunk);
        if (start >= n) return;
        for (std::size_t i = start, end = std::min(n, start + chunk); i < end; ++i) work(i);
      }
    } catch (...) {
      failure = std::current_exception();
      next = n;  // the other thread stops at its next chunk
    }
  };
  std::thread helper([&] { run(failures[1]); });
  run(failures[0]);
  helper.join();
  for (const auto& f : failures)
    if (f) std::rethrow_exception(f);
}

}  // namespace dutyd
