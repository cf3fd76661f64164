// When a slow server has become a timeout.
//
// A connection fails when the server sends nothing for --timeout seconds (a
// stall), and also when it keeps the connection "alive" with a trickle: over
// every --timeout seconds spent waiting for it, it must deliver at least
// k_min_bytes_per_second times that many bytes. Before, the timer restarted
// with every byte, so a reply arriving one byte a second never ended.
//
// A minimum rate, not an overall limit per command: a large message on a
// slow link legitimately takes long, and a rate scales with its size by
// itself. Only time spent waiting for the server counts, never the time the
// client spends writing to disk or talking to the other side of a migration.
// Each command the client sends starts a new window, so a server that thinks
// long before a short answer is judged by the stall rule alone.
//
// The rate is judged when bytes arrive, never at the end of a silence: a
// server that sent a little and then nothing is a stall, and says so.
//
// 128 bytes a second is far below any real link (a 2G modem gives 5 KB/s)
// and far above a trickle meant to keep a session open (a byte a second).
// It is judged over a whole --timeout window: a burst then a pause is fine.
#pragma once

#include <chrono>
#include <cstddef>

namespace mf::net {

inline constexpr std::size_t k_min_bytes_per_second = 128;

class ProgressGuard {
  public:
    using Duration = std::chrono::steady_clock::duration;

    // `window`: --timeout.
    explicit ProgressGuard(Duration window = std::chrono::seconds(60)) : m_window(window) {}

    // A new command: what the server owes starts from zero.
    void restart() {
        m_waited = Duration::zero();
        m_bytes = 0;
    }

    // `bytes` arrived (or went out) after `waited` more spent waiting for
    // the peer. False when a whole window has passed with fewer bytes than
    // the rate asks for; a window that passed with enough starts the next.
    bool record(Duration waited, std::size_t bytes) {
        m_waited += waited;
        m_bytes += bytes;
        if (m_waited < m_window) return true;
        if (m_bytes < needed()) return false;
        restart();
        return true;
    }

    // What the current window has brought, and what a window must bring.
    std::size_t bytes() const { return m_bytes; }
    std::size_t needed() const {
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(m_window).count();
        return static_cast<std::size_t>(ms) * k_min_bytes_per_second / 1000;
    }

  private:
    Duration m_window;
    Duration m_waited{};
    std::size_t m_bytes = 0;
};

} // namespace mf::net
