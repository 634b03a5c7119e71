#pragma once
// Random names and nonces from the kernel's generator.

#include <cstddef>
#include <string>

namespace joulebench {

/// `bytes` random bytes from getrandom(2) as 2 x `bytes` lower-case hex digits: the ssh
/// protocol's nonce and the names of joulebench's containers. Throws Error (kInternal) when the
/// kernel cannot supply them (std::random_device would silently fall back to another source).
std::string random_hex(std::size_t bytes);

}  // namespace joulebench
