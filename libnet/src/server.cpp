// SPDX-License-Identifier: BSL-1.0
#include "server/core.hpp"

#include <libnet/server.hpp>

namespace libnet {

server::server(executor_type ex, server_options options)
    : core_(std::make_shared<detail::server_core>(ex, std::move(options))) {}

server::~server() {
    core_->stop(msg::term_reason::shutdown);
}

server::executor_type server::get_executor() const noexcept {
    return core_->get_executor();
}

boost::asio::ip::tcp::endpoint server::local_endpoint() const {
    return core_->local_endpoint();
}

boost::asio::ip::udp::endpoint server::udp_endpoint() const {
    return core_->udp_endpoint();
}

bool server::cluster_supported() noexcept {
    return detail::cluster_supported();
}

boost::asio::awaitable<error_code> server::run_op(std::shared_ptr<detail::server_core> core) {
    co_return co_await core->run();
}

void server::stop(msg::term_reason reason, std::string_view text) {
    core_->stop(reason, {}, text);
}

std::size_t server::update_access(const std::set<std::string>& allow_ids,
                                  const std::map<std::string, std::string>& secrets) {
    return core_->update_access(allow_ids, secrets);
}

server_stats server::stats() const {
    return core_->stats();
}

std::ostream& operator<<(std::ostream& os, const server_stats& s) {
    os << "connections=" << s.connections << " connections_open=" << s.connections_open
       << " registrations=" << s.registrations << " online=" << s.online
       << " frames_in=" << s.frames_in << " frames_out=" << s.frames_out
       << " bytes_in=" << s.bytes_in << " bytes_out=" << s.bytes_out << " routed=" << s.routed
       << " broadcasts=" << s.broadcasts << " slow_consumers=" << s.slow_consumers
       << " lost=" << s.lost << " stored=" << s.stored << " stored_offline=" << s.stored_offline
       << " acked=" << s.acked << " expired=" << s.expired << " pending=" << s.pending
       << " store_failures=" << s.store_failures << " refused=" << s.refused;
    if (s.udp_sessions != 0 || s.udp_cookies != 0)
        os << " udp_sessions=" << s.udp_sessions << " udp_cookies=" << s.udp_cookies;
    for (auto const& [code, n] : s.errors)
        os << " error." << to_string(code) << "=" << n;
    return os;
}

std::string_view to_string(log_level l) noexcept {
    switch (l) {
    case log_level::debug:
        return "debug";
    case log_level::info:
        return "info";
    case log_level::warn:
        return "warn";
    case log_level::error:
        return "error";
    }
    return "unknown";
}

} // namespace libnet
