// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_LOG_HPP
#define LIBNET_LOG_HPP

#include <functional>
#include <string_view>

namespace libnet {

enum class log_level { debug, info, warn, error };

/// Receives libnet's log lines. Called from the library's threads, possibly several at
/// once: the function must be thread-safe. Empty: nothing is logged.
using log_function = std::function<void(log_level, std::string_view)>;

std::string_view to_string(log_level l) noexcept;

} // namespace libnet

#endif
