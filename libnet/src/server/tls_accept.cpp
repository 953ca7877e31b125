// SPDX-License-Identifier: BSL-1.0
// The TLS side of accepting (server_options::tls): a connection becomes a session only once
// its handshake is done. A client that speaks plain libnet to the TLS port is told so in
// clear, in its own protocol, instead of meeting a handshake it can't read.

#include "../wire/tls_names.hpp"
#include "core.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace libnet::detail {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr unsigned char tls_handshake_record = 0x16; // every TLS connection starts with one

// The log lines of tls_accept(), out of the coroutine: GCC 12 mishandles braced lists there.
void log_handshake_failed(const server_core& core, const std::string& from, std::string_view why) {
    if (core.logging())
        core.log(log_level::info, "tls.handshake_failed",
                 "TLS handshake from " + from + " failed: " + std::string(why),
                 {{"address", from}, {"reason", why}});
}

void log_plain_text(const server_core& core, const std::string& from) {
    if (core.logging())
        core.log(log_level::info, "connection.refused",
                 "refused plain-text connection from " + from + ": TLS required",
                 {{"address", from},
                  {"reason", "TLS required"},
                  {"code", to_string(error::tls_required)}});
}

// Sends `frame`, then reads and drops what the client sent until it closes or `timer`
// expires: closing on unread input would reset the connection and could destroy the frame.
asio::awaitable<void> answer_in_clear(tcp::socket& socket, shared_frame frame,
                                      asio::steady_timer& timer) {
    co_await (asio::async_write(socket, frame.buffer(), use_tuple) || timer.async_wait(use_tuple));
    boost::system::error_code ec;
    socket.shutdown(tcp::socket::shutdown_send, ec);
    char sink[1024];
    for (;;) {
        auto r = co_await (socket.async_read_some(asio::buffer(sink), use_tuple) ||
                           timer.async_wait(use_tuple));
        if (r.index() == 1 || std::get<0>(std::get<0>(r)))
            break;
    }
    socket.close(ec);
}

} // namespace

asio::awaitable<void> server_core::tls_accept(std::shared_ptr<server_core> self,
                                              tcp::socket socket) {
    boost::system::error_code ec;
    auto const from = endpoint_string(socket.remote_endpoint(ec));
    asio::steady_timer timer(socket.get_executor());
    timer.expires_after(self->options_.tls.handshake_timeout);
    auto failed = [&](const std::string& why) {
        log_handshake_failed(*self, from, why);
    };

    auto ready = co_await (socket.async_wait(tcp::socket::wait_read, use_tuple) ||
                           timer.async_wait(use_tuple));
    if (ready.index() == 1)
        co_return failed("timed out");
    unsigned char first = 0;
    if (socket.receive(asio::buffer(&first, 1), tcp::socket::message_peek, ec) != 1 || ec)
        co_return; // closed before saying anything
    if (first != tls_handshake_record) {
        log_plain_text(*self, from);
        co_return co_await answer_in_clear(socket, make_error_frame(error::tls_required), timer);
    }

    transport stream(std::move(socket), *self->options_.tls.context);
    auto shook =
        co_await (stream.tls()->async_handshake(asio::ssl::stream_base::server, use_tuple) ||
                  timer.async_wait(use_tuple));
    if (shook.index() == 1)
        co_return failed("timed out");
    if (auto [hec] = std::get<0>(shook); hec)
        co_return failed(hec.message());
    auto* peer = SSL_get0_peer_certificate(stream.tls()->native_handle());
    self->open_session(std::move(stream), certificate_names(peer));
}

} // namespace libnet::detail
