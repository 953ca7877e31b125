// SPDX-License-Identifier: BSL-1.0
#include "connection_impl.hpp"

#include <boost/asio/steady_timer.hpp>

#include <openssl/ssl.h>

#ifdef __linux__
#include <linux/sockios.h>
#include <sys/ioctl.h>
#endif

namespace libnet::detail {

using boost::asio::ip::tcp;

tcp::endpoint prepare_stream(transport& s) {
    if (auto* u = s.udp())
        return {u->peer().address(), u->peer().port()};
    boost::system::error_code ignored;
    s.socket().set_option(tcp::no_delay(true), ignored);
    return s.socket().remote_endpoint(ignored);
}

// Asio's TLS shutdown sends close_notify and then waits for the peer's, reading: beside the
// connection's own reader it would take (and refuse) the application data still on its
// way. Marked as received for the length of the call, SSL_shutdown only sends ours; the
// reader then reads on until the peer's close_notify ends the stream.
asio::awaitable<void> shutdown_send(transport& s) {
    if (auto* u = s.udp()) {
        u->shutdown_send();
        co_return;
    }
    if (!s.tls()) {
        boost::system::error_code ignored;
        s.socket().shutdown(tcp::socket::shutdown_send, ignored);
        co_return;
    }
    auto* ssl = s.tls()->native_handle();
    int const before = SSL_get_shutdown(ssl);
    if (before & SSL_SENT_SHUTDOWN)
        co_return;
    asio::steady_timer sent(s.get_executor(), asio::steady_timer::time_point::max());
    auto done = std::make_shared<bool>(false);
    SSL_set_shutdown(ssl, before | SSL_RECEIVED_SHUTDOWN);
    s.tls()->async_shutdown([done, &sent](boost::system::error_code) {
        *done = true;
        sent.cancel();
    });
    SSL_set_shutdown(ssl, before | SSL_SENT_SHUTDOWN); // the call above has run SSL_shutdown
    while (!*done)
        co_await sent.async_wait(use_tuple);
}

bool input_buffered(transport& s) {
    if (auto* u = s.udp())
        return u->input_buffered();
    if (!s.tls())
        return false;
    auto* ssl = s.tls()->native_handle();
    return SSL_pending(ssl) > 0 || BIO_pending(SSL_get_rbio(ssl)) > 0;
}

void close_stream(transport& s) {
    if (auto* u = s.udp())
        return u->close();
    boost::system::error_code ignored;
    s.socket().close(ignored);
}

std::uint64_t unacknowledged_bytes(transport& s) {
    if (auto* u = s.udp())
        return u->unacknowledged();
#ifdef __linux__
    int n = 0;
    if (::ioctl(s.socket().native_handle(), SIOCOUTQ, &n) == 0 && n > 0)
        return static_cast<std::uint64_t>(n);
#endif
    (void)s;
    return 0;
}

template class basic_connection<transport>;

} // namespace libnet::detail
