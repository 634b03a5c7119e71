#include "runner/scheduler.hpp"

#include <exception>
#include <mutex>
#include <thread>

namespace joulebench::runner {

void QueueScheduler::run(std::size_t slots, const std::vector<const RunSpec*>& queue,
                         const std::function<bool()>& keep_going, const RunWork& work) {
    std::mutex mutex;  // guards next and failure
    std::size_t next = 0;
    std::exception_ptr failure;
    std::vector<std::thread> threads;
    threads.reserve(slots);
    for (std::size_t slot = 0; slot < slots; ++slot) {
        threads.emplace_back([&, slot] {
            bool first = true;
            for (;;) {
                const RunSpec* run = nullptr;
                {
                    std::lock_guard lock(mutex);
                    if (next >= queue.size() || failure || !keep_going()) return;
                    run = queue[next++];
                }
                try {
                    work(slot, *run, first);
                } catch (...) {
                    std::lock_guard lock(mutex);
                    if (!failure) failure = std::current_exception();
                    return;
                }
                first = false;
            }
        });
    }
    for (auto& t : threads) t.join();
    if (failure) std::rethrow_exception(failure);
}

}  // namespace joulebench::runner
