// SPDX-License-Identifier: BSL-1.0
// The handshakes of a direct link: TLS with pinned keys (docs/protocol.md §15.8), then
// PEER_HELLO / PEER_WELCOME (§15.3): the acceptor checks the server-minted token, the
// dialer the acceptor's proof; then the switch marker goes through the server before
// messages may take the link.

#include "../wire/peer_token.hpp"
#include "core.hpp"

#include <libnet/client_id.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace libnet::detail {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
using clock = std::chrono::steady_clock;

namespace {
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
}

std::string client_core::link_key() {
    if (!options_.encrypt_links)
        return {};
    if (!link_tls_)
        link_tls_ = std::make_unique<link_tls>();
    return link_tls_->key();
}

asio::awaitable<void> client_core::accept_link(tcp::socket socket) {
    auto const deadline = clock::now() + options_.connect_timeout;
    auto stream = transport(std::move(socket));
    std::string dialer_key;
    if (link_tls_) {
        stream = transport(std::move(stream.socket()), link_tls_->acceptor());
        asio::steady_timer timer(ex_, deadline);
        link_handshakes_.push_back(&stream); // closing the links closes it too
        auto shook =
            co_await (stream.tls()->async_handshake(asio::ssl::stream_base::server, use_tuple) ||
                      timer.async_wait(use_tuple));
        std::erase(link_handshakes_, &stream);
        if (shook.index() == 1 || std::get<0>(std::get<0>(shook)) || leaving_links_ ||
            state_ != state::registered)
            co_return; // not a peer of ours (no certificate, no TLS, too slow), or we left
        dialer_key = peer_link_key(*stream.tls());
    }
    auto link = std::make_shared<peer_link>(std::move(stream), options_, this, false);
    link->dialer_key = std::move(dialer_key);
    link->set_deadline(deadline, error::hello_timeout);
    links_.add_accepted(link);
    spawn_link(link);
}

asio::awaitable<error_code> client_core::secure_dial(transport& stream, std::string pinned,
                                                     asio::steady_timer& timer) {
    link_key(); // the identity exists: its key went out in INTRO_REQUEST
    stream = transport(std::move(stream.socket()), link_tls_->dialer());
    auto shook =
        co_await (stream.tls()->async_handshake(asio::ssl::stream_base::client, use_tuple) ||
                  timer.async_wait(use_tuple));
    if (shook.index() == 1)
        co_return asio::error::timed_out;
    if (auto [ec] = std::get<0>(shook); ec)
        co_return ec;
    // The peer is who the server introduced only if it holds the key the server vouched for.
    if (!equal_secret(peer_link_key(*stream.tls()), pinned))
        co_return error::auth_failed;
    co_return error_code{};
}

void client_core::on_link_frame(peer_link& link, frame_view f) {
    if (!link.verified()) {
        if (link.gone || leaving_links_)
            return; // a late handshake on a link being closed
        return link.dialer ? on_peer_welcome(link, f) : on_peer_hello(link, f);
    }
    switch (f.core_type()) {
    case frame_type::deliver:
        return on_link_data(link, f);
    case frame_type::ack: {
        msg::ack a;
        if (auto ec = msg::decode(f, a))
            link.enqueue(make_error_frame(wire_code(ec), f.type));
        else
            on_link_ack(link, a);
        return;
    }
    case frame_type::bye: {
        msg::bye b;
        if (auto ec = msg::decode(f, b)) { // field framing applies to BYE too
            link.enqueue(make_error_frame(wire_code(ec), f.type));
            return;
        }
        // The peer leaves: confirm what arrived, then close.
        if (link.delivered > link.acked)
            link.enqueue(make_frame(msg::ack{link.delivered}));
        link.acked = link.delivered;
        return link.close(error::connection_closed);
    }
    case frame_type::error: {
        msg::error e;
        if (!msg::decode(f, e))
            push_event(
                server_error{from_wire(e.code), std::string(e.text), e.ref, e.ref_type, link.peer});
        return;
    }
    default:
        if (is_app_type(f.type))
            return on_link_data(link, f);
        link.enqueue(make_error_frame(error::unknown_type, f.type));
        return;
    }
}

void client_core::on_peer_hello(peer_link& link, frame_view f) {
    auto const type = f.type;
    auto refuse = [&link, type](error code, std::string_view text) {
        link.close(code,
                   make_frame(msg::error{static_cast<std::uint16_t>(code), text, 0, type, {}}));
    };
    if (f.core_type() != frame_type::peer_hello)
        return refuse(error::hello_expected, "a direct link starts with PEER_HELLO");
    msg::peer_hello h;
    if (auto ec = msg::decode(f, h))
        return refuse(wire_code(ec), ec.message());
    if (h.token.empty())
        return refuse(error::auth_failed, "no token");
    if (h.version != protocol_version)
        return refuse(error::unsupported_version, "unsupported protocol version");
    if (peer_key_.empty() || state_ != state::registered || leaving_links_)
        return refuse(error::no_peer_link, "not accepting direct links");
    if (!is_valid_client_id(h.id) || h.link == 0)
        return refuse(error::malformed_message, "bad id or link");
    auto const now = unix_ms();
    switch (check_token(peer_key_, h.token, h.id, id_, now, link.dialer_key)) {
    case token_check::ok:
        break;
    case token_check::expired:
        return refuse(error::auth_failed, "token expired");
    default:
        return refuse(error::auth_failed, "token not valid for this pair");
    }
    if (!links_.fresh_token(token_nonce(h.token), token_expires(h.token), now))
        return refuse(error::auth_failed, "token already used");

    std::string claimed(h.id);
    if (auto* found = links_.find(claimed)) {
        auto& other = *found;
        if (other.verified() && other.gone)
            return refuse(error::no_peer_link, "the previous link is still closing");
        if (other.verified() || id_ < claimed) // crossed dials: the smaller id's dial wins
            return refuse(error::already_registered, "a link to this peer exists");
        other.close(error::already_registered); // ours loses; connect_peer waits for this one
    }
    auto self = std::static_pointer_cast<peer_link>(link.shared_from_this());
    link.peer = std::move(claimed);
    link.id = h.link;
    links_.identified(self);
    link.clear_deadline();
    link.enqueue(
        make_frame(msg::peer_welcome{protocol_version, id_, token_proof(peer_key_, h.token)}));
    link_verified(link);
}

void client_core::on_peer_welcome(peer_link& link, frame_view f) {
    if (f.core_type() == frame_type::error) {
        msg::error e;
        auto const code = msg::decode(f, e) ? error::malformed_message : from_wire(e.code);
        return link.close(code);
    }
    auto const type = static_cast<std::uint16_t>(frame_type::peer_welcome);
    msg::peer_welcome w;
    if (f.core_type() != frame_type::peer_welcome || msg::decode(f, w))
        return link.close(error::unexpected_frame, make_error_frame(error::unexpected_frame, type));
    if (w.id != link.peer || !equal_secret(w.proof, link.expect_proof))
        return link.close(error::auth_failed, make_error_frame(error::auth_failed, type));
    link.clear_deadline();
    link_verified(link);
}

void client_core::link_verified(peer_link& link) {
    link.st = peer_link::state::syncing;
    link.set_heartbeat(heartbeat_, heartbeat_misses_);
    // The switch marker: once it has come back, everything sent to the peer through the
    // server before it has arrived, and messages may take the link without overtaking.
    link.set_deadline(clock::now() + options_.connect_timeout, error::no_peer_link);
    write_silent(make_frame(msg::send{link.peer, {}, 0, link.id, 0, msg::flag_link_sync}));
    if (link.sync_pending) {
        link.sync_pending = false;
        link.enqueue(make_frame(msg::ack{link.delivered, msg::flag_link_sync}));
    }
    {
        std::lock_guard lock(info_mutex_);
        linked_.insert(std::upper_bound(linked_.begin(), linked_.end(), link.peer), link.peer);
    }
    push_event(link_up{link.peer});
    notify_links();
}

} // namespace libnet::detail
