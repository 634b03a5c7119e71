#include "joulebench/sensor.hpp"

namespace joulebench {

// The key function: Sensor's vtable and type information are emitted here, once.
Sensor::~Sensor() = default;

}  // namespace joulebench
