// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_LOG_HPP
#define LIBNET_LOG_HPP

#include <functional>
#include <string_view>

namespace libnet {

/// Severity of a log line (server_options::log).
enum class log_level {
    debug, ///< Detail for diagnosis, such as each accepted connection.
    info,  ///< Normal events: joins, leaves, start and stop.
    warn,  ///< Something went wrong that the server recovers from (a cluster link lost).
    error  ///< An operation failed (a store commit, a session).
};

/// Receives libnet's log lines. Called from the library's threads, possibly several at
/// once: the function must be thread-safe. Empty: nothing is logged.
using log_function = std::function<void(log_level, std::string_view)>;

/// The level's name: "debug", "info", "warn" or "error" ("unknown" for other values).
std::string_view to_string(log_level l) noexcept;

} // namespace libnet

#endif
