// SPDX-License-Identifier: BSL-1.0
// Introductions for direct links and application-defined frames.

#include "../wire/peer_token.hpp"
#include "core.hpp"

namespace libnet {

void app_responder::reply(std::uint16_t type, std::string_view body) const {
    if (!is_app_type(type))
        throw std::invalid_argument("libnet: app_responder::reply needs an application type");
    session_->enqueue(detail::make_frame(msg::app{type, {}, {}, body, ref_, 0, 0, 0}));
}

void app_responder::fail(error code, std::string_view text) const {
    auto const t = text.empty() ? make_error_code(code).message() : std::string(text);
    session_->enqueue(
        detail::make_frame(msg::error{static_cast<std::uint16_t>(code), t, ref_, type_, {}}));
}

const std::string& app_responder::client() const {
    return session_->id();
}

} // namespace libnet

namespace libnet::detail {

void server_core::introduce(server_session& from, const msg::intro_request& m) {
    auto const type = static_cast<std::uint16_t>(frame_type::intro_request);
    if (!barrier_open_.load(std::memory_order_acquire))
        return from.send_error(error::not_ready, type, m.ref, m.to);
    std::unique_lock lock(mutex_);
    auto* found = directory_.find(m.to);
    if (!found) {
        // The acceptor's node mints the token: only it has the acceptor's key.
        std::string node;
        if (auto* r = cluster_ ? directory_.find_remote(m.to) : nullptr)
            node = r->node;
        lock.unlock();
        if (node.empty())
            return from.send_error(error::no_such_client, type, m.ref, m.to);
        auto const f = make_frame(m);
        if (!cluster_->send(node, m.to, from.id_, {f.data.get(), f.size}))
            from.send_error(error::cluster_unavailable, type, m.ref, m.to);
        return;
    }
    auto const hold = found->self();
    lock.unlock();
    if (hold.get() == &from)
        return from.send_error(error::no_peer_link, type, m.ref, m.to);
    from.enqueue(introduction(from.id_, m.link_key, *hold, m.ref));
}

shared_frame server_core::introduction(std::string_view dialer, std::string_view dialer_key,
                                       server_session& peer, std::uint64_t ref) {
    auto const type = static_cast<std::uint16_t>(frame_type::intro_request);
    std::unique_lock lock(mutex_);
    if (peer.peer_key_.empty() || !peer.registered_) {
        count_error(error::no_peer_link);
        return make_error_frame(error::no_peer_link, type, ref, peer.id_);
    }
    auto const key = peer.peer_key_;
    std::string const id = peer.id_, endpoint = peer.endpoint_, link_key = peer.link_key_;
    lock.unlock();
    auto const expires = unix_ms() + static_cast<std::uint64_t>(options_.peer_token_ttl.count());
    // Bound to the dialer's key only where the acceptor can check it: on its TLS links.
    auto const token = make_token(key, dialer, id, expires, link_key.empty() ? "" : dialer_key);
    auto const proof = token_proof(key, token);
    return make_frame(msg::introduction{id, endpoint, token, proof, expires, ref, link_key});
}

void server_core::app_frame(server_session& from, frame_view f) {
    msg::app m;
    if (auto ec = msg::decode(f, m))
        return from.send_error(wire_code(ec), f.type, m.ref);
    if (auto h = options_.app_handlers.find(m.type); h != options_.app_handlers.end()) {
        h->second({m.type, from.id_, m.to, m.body, m.ref},
                  app_responder(from.self(), m.type, m.ref));
        return;
    }
    if (m.to.empty())
        return from.send_error(error::unknown_type, f.type, m.ref);
    route_one(from, {m.type, m.to, m.body, m.ref, m.flags, m.ttl_ms, m.link, m.link_seq});
}

} // namespace libnet::detail
