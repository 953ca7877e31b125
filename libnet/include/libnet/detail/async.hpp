// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_DETAIL_ASYNC_HPP
#define LIBNET_DETAIL_ASYNC_HPP

#include <libnet/error.hpp>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/system/system_error.hpp>

#include <exception>
#include <system_error>
#include <utility>

namespace libnet::detail {

inline error_code error_from(std::exception_ptr e) {
    try {
        std::rethrow_exception(e);
    } catch (const boost::system::system_error& se) {
        return se.code();
    } catch (const std::system_error& se) {
        return error_code(se.code());
    }
}

/// Runs `op` (an awaitable<error_code>) on `ex` and completes `token` with
/// void(error_code), on the handler's own associated executor.
template <class Token, class Executor>
auto spawn_op(Executor ex, boost::asio::awaitable<error_code> op, Token&& token) {
    return boost::asio::async_initiate<Token, void(error_code)>(
        [ex](auto handler, boost::asio::awaitable<error_code> op) {
            auto hex = boost::asio::get_associated_executor(handler, ex);
            boost::asio::co_spawn(
                ex, std::move(op),
                boost::asio::bind_executor(
                    hex, [h = std::move(handler)](std::exception_ptr e, error_code ec) mutable {
                        std::move(h)(e ? error_from(e) : ec);
                    }));
        },
        token, std::move(op));
}

} // namespace libnet::detail

#endif
