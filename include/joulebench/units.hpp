#pragma once
/// Physical units as types. Core code never passes a bare double for energy or power: raw driver
/// integers exist only at the edge and carry their unit in their name (`energy_uj`, `limit_mw`).

#include <chrono>
#include <compare>
#include <cstdint>

namespace joulebench {

/// Durations in seconds as a double, for arithmetic with energy and power.
using Seconds = std::chrono::duration<double>;
/// The clock of every timestamp in a measurement: monotonic, unaffected by NTP steps.
using Clock = std::chrono::steady_clock;

template <class Tag>
class Quantity {
public:
    constexpr Quantity() = default;
    constexpr explicit Quantity(double value) : m_value(value) {}
    [[nodiscard]] constexpr double value() const { return m_value; }

    constexpr Quantity& operator+=(Quantity other) {
        m_value += other.m_value;
        return *this;
    }
    constexpr Quantity& operator-=(Quantity other) {
        m_value -= other.m_value;
        return *this;
    }
    friend constexpr Quantity operator+(Quantity a, Quantity b) { return Quantity(a.m_value + b.m_value); }
    friend constexpr Quantity operator-(Quantity a, Quantity b) { return Quantity(a.m_value - b.m_value); }
    friend constexpr Quantity operator-(Quantity a) { return Quantity(-a.m_value); }
    friend constexpr Quantity operator*(Quantity a, double k) { return Quantity(a.m_value * k); }
    friend constexpr Quantity operator*(double k, Quantity a) { return Quantity(a.m_value * k); }
    friend constexpr Quantity operator/(Quantity a, double k) { return Quantity(a.m_value / k); }
    friend constexpr double operator/(Quantity a, Quantity b) { return a.m_value / b.m_value; }
    friend constexpr auto operator<=>(Quantity a, Quantity b) = default;

private:
    double m_value = 0.0;
};

struct JoulesTag {};
struct WattsTag {};

/// Energy in joules.
using Joules = Quantity<JoulesTag>;
/// Power in watts.
using Watts = Quantity<WattsTag>;

constexpr Watts operator/(Joules e, Seconds t) { return Watts(e.value() / t.count()); }
constexpr Joules operator*(Watts p, Seconds t) { return Joules(p.value() * t.count()); }
constexpr Joules operator*(Seconds t, Watts p) { return Joules(p.value() * t.count()); }

// Conversions at the edge, where drivers hand out integers.
constexpr Joules from_microjoules(std::uint64_t energy_uj) { return Joules(static_cast<double>(energy_uj) * 1e-6); }
constexpr Joules from_millijoules(std::uint64_t energy_mj) { return Joules(static_cast<double>(energy_mj) * 1e-3); }
constexpr Watts from_milliwatts(std::uint64_t power_mw) { return Watts(static_cast<double>(power_mw) * 1e-3); }
constexpr Watts from_microwatts(std::uint64_t power_uw) { return Watts(static_cast<double>(power_uw) * 1e-6); }

/// The energy-delay product EDP = E x T, in J s (Gonzalez & Horowitz 1996, "Energy dissipation in
/// general purpose microprocessors", IEEE JSSC 31(9)): the one definition every part uses.
[[nodiscard]] constexpr double energy_delay_product(double energy_j, double time_s) {
    return energy_j * time_s;
}

/// ED2P = E x T^2, in J s^2 (Martin, Nystrom & Penzes 2001, "ET^2: a metric for time and energy
/// efficiency of computation"), weighing time more than EDP.
[[nodiscard]] constexpr double energy_delay_squared_product(double energy_j, double time_s) {
    return energy_j * time_s * time_s;
}

/// Seconds between two clock readings, as a double.
inline double seconds_between(Clock::time_point from, Clock::time_point to) {
    return std::chrono::duration_cast<Seconds>(to - from).count();
}

/// Unix time now, in seconds (wall clock: the times stored with runs and sessions).
[[nodiscard]] inline double unix_now() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace joulebench
