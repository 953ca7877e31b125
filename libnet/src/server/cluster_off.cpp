// SPDX-License-Identifier: BSL-1.0
// A libnet built without NATS (LIBNET_WITH_NATS=OFF): servers stand alone.

#include "cluster.hpp"

#include <stdexcept>

namespace libnet::detail {

struct cluster::impl {};

cluster::cluster(boost::asio::any_io_executor, const cluster_options&, std::uint16_t,
                 cluster_events&) {
    throw std::runtime_error("cluster: this libnet was built without NATS (LIBNET_WITH_NATS)");
}

cluster::~cluster() = default;

void cluster::connect() {}

void cluster::start() {}

void cluster::stop() {}

const std::string& cluster::node() const noexcept {
    static const std::string none;
    return none;
}

bool cluster::available() const noexcept {
    return false;
}

void cluster::claim(const std::string&, const std::string&) {}

void cluster::release(const std::string&, std::uint64_t, msg::leave_reason) {}

bool cluster::send(std::string_view, std::string_view, std::string_view,
                   std::span<const std::uint8_t>) {
    return false;
}

bool cluster::broadcast(std::string_view, std::span<const std::uint8_t>) {
    return false;
}

void cluster::keep_mailboxes(const mail_limits&) {}

bool cluster::store(std::string_view, std::span<const std::uint8_t>, std::uint64_t) {
    return false;
}

void cluster::open_mailbox(const std::string&, std::uint64_t) {}

void cluster::close_mailbox(const std::string&) {}

void cluster::ack_mailbox(const std::string&, std::uint64_t) {}

void cluster::drop_mail(std::uint64_t) {}

bool cluster_supported() noexcept {
    return false;
}

} // namespace libnet::detail
