// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_TEST_CLUSTER_HARNESS_HPP
#define LIBNET_TEST_CLUSTER_HARNESS_HPP

// What the cluster tests share: a node's options, and waiting for what clients see.

#include "../integration/peers_harness.hpp"
#include "nats_cluster.hpp"

namespace test {

inline libnet::server_options node(const nats_cluster& nats, int i, std::string name) {
    libnet::server_options o;
    o.cluster.servers = nats.url(i);
    o.cluster.node_id = std::move(name);
    o.cluster.name = nats.name(); // a cluster of its own, should tests ever share NATS
    return o;
}

// Waits until `c` sees `id` join (or has it listed already).
inline asio::awaitable<void> sees(libnet::client& c, std::string id) {
    for (auto const& p : c.directory())
        if (p.id == id)
            co_return;
    for (;;) {
        auto j = co_await expect<libnet::peer_joined>(c);
        if (j.peer.id == id)
            co_return;
    }
}

inline asio::awaitable<error_code> try_connect(libnet::client& c, std::string port) {
    auto [ec] = co_await c.async_connect("127.0.0.1", port, use_tuple);
    co_return ec;
}

// Closes every client, then stops every node.
inline asio::awaitable<void> close_all(std::vector<std::unique_ptr<libnet::client>>& clients,
                                       std::vector<server*> servers) {
    for (auto& c : clients)
        co_await close(*c);
    for (auto* s : servers)
        co_await s->stop();
}

// Waits until `c` hears that `id` left, skipping other events.
inline asio::awaitable<libnet::peer_left> until_left(libnet::client& c, std::string id) {
    for (;;) {
        auto ev = co_await next_event(c);
        if (auto* l = std::get_if<libnet::peer_left>(&ev); l && l->id == id)
            co_return std::move(*l);
    }
}

} // namespace test

#endif
