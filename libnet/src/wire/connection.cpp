#include "connection_impl.hpp"

#ifdef __linux__
#include <linux/sockios.h>
#include <sys/ioctl.h>
#endif

namespace libnet::detail {

using boost::asio::ip::tcp;

tcp::endpoint prepare_stream(tcp::socket& s) {
    boost::system::error_code ignored;
    s.set_option(tcp::no_delay(true), ignored);
    return s.remote_endpoint(ignored);
}

void shutdown_send(tcp::socket& s) {
    boost::system::error_code ignored;
    s.shutdown(tcp::socket::shutdown_send, ignored);
}

void close_stream(tcp::socket& s) {
    boost::system::error_code ignored;
    s.close(ignored);
}

std::uint64_t unacknowledged_bytes(tcp::socket& s) {
#ifdef __linux__
    int n = 0;
    if (::ioctl(s.native_handle(), SIOCOUTQ, &n) == 0 && n > 0)
        return static_cast<std::uint64_t>(n);
#endif
    (void)s;
    return 0;
}

template class basic_connection<tcp::socket>;

} // namespace libnet::detail
