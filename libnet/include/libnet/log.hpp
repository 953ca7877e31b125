// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_LOG_HPP
#define LIBNET_LOG_HPP

#include <concepts>
#include <cstddef>
#include <functional>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>

namespace libnet {

/// Severity of a log line (server_options::log).
enum class log_level {
    debug, ///< Detail for diagnosis, such as each accepted connection.
    info,  ///< Normal events: joins, leaves, start and stop.
    warn,  ///< Something went wrong that the server recovers from (a cluster link lost).
    error  ///< An operation failed (a store commit, a session).
};

/// One named value of a log_record, such as `{"id", "alice"}`. Numbers come as their
/// decimal text, endpoints as `HOST:PORT` (`[v6addr]:PORT`).
struct log_field {
    std::string_view key;   ///< The field's name: "id", "address", "reason", "online", ...
    std::string_view value; ///< Its value, as text.
};

/// What the library logs: a stable event name for programs, the sentence for people and the
/// event's values as fields. docs/guide.md §2 lists every event and its fields.
///
/// The views point into the library's own strings: they are valid only during the call to
/// the log_function. Copy what you keep. No field ever holds a secret (server_options::secrets,
/// a client's credentials).
struct log_record {
    /// Severity.
    log_level level = log_level::info;
    /// A dotted name that stays the same across releases, such as "client.joined" or
    /// "store.failed". Empty for a line logged as a sentence only (the two-argument call of
    /// log_function).
    std::string_view event;
    /// The sentence, such as "joined alice from 127.0.0.1:5000 (2 online)". Its wording may
    /// change between releases; match on `event` and `fields` instead.
    std::string_view message;
    /// The event's values, in the order the guide lists them. Keys are never "time",
    /// "level", "program", "msg" or "event".
    std::span<const log_field> fields;
};

namespace detail {

template <class F>
struct is_std_function : std::false_type {};
template <class Signature>
struct is_std_function<std::function<Signature>> : std::true_type {};

// A null function pointer or an empty std::function: a log_function made of it is empty.
template <class F>
bool is_null_callable(const F& f) noexcept {
    if constexpr (std::is_pointer_v<F> || std::is_member_pointer_v<F>)
        return f == nullptr;
    else if constexpr (is_std_function<F>::value)
        return !f;
    else
        return false;
}

} // namespace detail

/// Receives libnet's log records (server_options::log). Empty: nothing is logged, and the
/// library does not build the records' strings at all.
///
/// It is made from either kind of callable:
/// - `void(const log_record&)`: gets each record whole, with its event and fields;
/// - `void(log_level, std::string_view)`, the form before log_record: gets the level and the
///   message, the sentence, as before.
///
/// @code
/// options.log = [](const libnet::log_record& r) {
///     std::clog << libnet::to_string(r.level) << ' ' << r.event;
///     for (auto const& f : r.fields)
///         std::clog << ' ' << f.key << '=' << f.value;
///     std::clog << '\n';
/// };
/// options.log = [](libnet::log_level level, std::string_view line) { std::clog << line << '\n'; };
/// @endcode
///
/// @par Thread safety
/// The library calls it from its own threads (session strands, the server's strand, NATS's
/// threads), possibly several at once: the callable must be thread-safe. A call must not
/// block for long, as it holds up the thread it runs on. Copying or assigning a log_function
/// while it is called is not safe; the server keeps its own copy of its options.
class log_function {
public:
    /// Empty: nothing is logged.
    log_function() noexcept = default;

    /// Empty, as `options.log = nullptr`.
    log_function(std::nullptr_t) noexcept {}

    /// From a callable taking `(const log_record&)`. Empty when `f` is a null function
    /// pointer or an empty std::function.
    template <class F>
    requires(!std::same_as<std::remove_cvref_t<F>, log_function> &&
             std::invocable<std::decay_t<F>&, const log_record&>) log_function(F&& f)
        : f_(std::forward<F>(f)) {}

    /// From a callable taking `(log_level, std::string_view)`: it gets each record's level
    /// and message. Empty when `f` is a null function pointer or an empty std::function.
    template <class F>
    requires(!std::same_as<std::remove_cvref_t<F>, log_function> &&
             !std::invocable<std::decay_t<F>&, const log_record&> &&
             std::invocable<std::decay_t<F>&, log_level, std::string_view>) log_function(F&& f) {
        if (detail::is_null_callable(f))
            return;
        f_ = [g = std::decay_t<F>(std::forward<F>(f))](const log_record& r) mutable {
            std::invoke(g, r.level, r.message);
        };
    }

    /// True unless empty.
    explicit operator bool() const noexcept { return static_cast<bool>(f_); }

    /// Hands `r` to the callable; does nothing when empty. Exceptions from the callable
    /// propagate.
    void operator()(const log_record& r) const {
        if (f_)
            f_(r);
    }

    /// Logs `message` as a record with no event and no fields; does nothing when empty.
    void operator()(log_level level, std::string_view message) const {
        (*this)(log_record{level, {}, message, {}});
    }

private:
    std::function<void(const log_record&)> f_;
};

/// The level's name: "debug", "info", "warn" or "error" ("unknown" for other values).
std::string_view to_string(log_level l) noexcept;

} // namespace libnet

#endif
