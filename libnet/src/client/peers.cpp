// SPDX-License-Identifier: BSL-1.0
// Direct links between clients (docs/protocol.md §15): listening, and dialing a peer
// through an introduction. The handshake is in link_handshake.cpp, the traffic and the
// end of links in link_traffic.cpp.

#include "../wire/peer_token.hpp"
#include "core.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sstream>

namespace libnet::detail {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
using clock = std::chrono::steady_clock;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// "[host:]port", "[v6]:port" -> host (may be empty) and port.
bool split_host_port(std::string_view s, std::string& host, std::string& port) {
    auto const colon = s.rfind(':');
    if (colon == std::string_view::npos) {
        host.clear();
        port = std::string(s);
    } else {
        host = std::string(s.substr(0, colon));
        port = std::string(s.substr(colon + 1));
        if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
            host = host.substr(1, host.size() - 2);
    }
    return !port.empty() && port.find_first_not_of("0123456789") == std::string::npos &&
           port.size() <= 5 && std::stoul(port) <= 65535;
}

std::string to_string(const tcp::endpoint& ep) {
    std::ostringstream os;
    os << ep;
    return os.str();
}
} // namespace

// --- listening ---------------------------------------------------------------------------

error_code client_core::start_listening(const tcp::endpoint& local) {
    std::string host, port;
    if (!split_host_port(options_.listen, host, port))
        return error::malformed_message;
    boost::system::error_code ec;
    tcp::endpoint ep(tcp::v4(), static_cast<std::uint16_t>(std::stoul(port)));
    if (!host.empty()) {
        auto const addr = asio::ip::make_address(host, ec);
        if (ec)
            return ec;
        ep.address(addr);
    } else if (local.address().is_v6()) {
        ep = tcp::endpoint(tcp::v6(), ep.port());
    }
    acceptor_.emplace(ex_);
    acceptor_->open(ep.protocol(), ec);
    if (!ec)
        acceptor_->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec)
        acceptor_->bind(ep, ec);
    if (!ec)
        acceptor_->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        acceptor_.reset();
        return ec;
    }
    auto bound = acceptor_->local_endpoint(ec);
    if (ec)
        return ec;
    if (advertise_.empty()) {
        // Listening on every interface: advertise the one that reaches the server.
        auto shown = bound;
        if (shown.address().is_unspecified())
            shown.address(local.address());
        advertise_ = to_string(shown);
    }
    {
        std::lock_guard lock(info_mutex_);
        listen_endpoint_ = to_string(bound);
    }
    spawn(accept_loop());
    return {};
}

asio::awaitable<void> client_core::accept_loop() {
    for (;;) {
        if (!acceptor_ || !acceptor_->is_open())
            co_return;
        auto [ec, socket] = co_await acceptor_->async_accept(ex_, use_tuple);
        if (ec == asio::error::operation_aborted || !acceptor_ || !acceptor_->is_open())
            co_return;
        if (ec) { // out of descriptors and the like: back off instead of spinning
            asio::steady_timer backoff(ex_, std::chrono::milliseconds(100));
            co_await backoff.async_wait(use_tuple);
            continue;
        }
        spawn(accept_link(std::move(socket)));
    }
}

void client_core::spawn_link(std::shared_ptr<peer_link> link) {
    spawn([](std::shared_ptr<client_core> self,
             std::shared_ptr<peer_link> l) -> asio::awaitable<void> {
        co_await l->run();
        self->on_link_finished(l);
    }(shared_from_this(), std::move(link)));
}

// --- dialing -----------------------------------------------------------------------------

void client_core::connect_peer(std::string id, pending<> op) {
    spawn(link_to(std::move(id)), std::move(op));
}

asio::awaitable<error_code> client_core::link_to(std::string id) {
    if (state_ != state::registered || leaving_links_)
        co_return not_open();
    if (id == id_)
        co_return error::no_peer_link;
    auto const deadline = clock::now() + options_.connect_timeout;
    if (!links_.contains(id)) {
        if (auto ec = co_await dial(id, deadline))
            co_return ec;
    }
    std::shared_ptr<peer_link> last;
    asio::steady_timer timer(ex_, deadline);
    for (;;) {
        if (auto* found = links_.find(id)) {
            last = std::static_pointer_cast<peer_link>(found->shared_from_this());
            if (last->verified())
                co_return last->gone ? last->reason() : error_code{};
        } else {
            auto ec = last ? last->reason() : error_code();
            // A dial that lost to the peer's crossing dial: the winner is on its way.
            if (ec != error::already_registered)
                co_return ec ? ec : error_code(error::no_peer_link);
        }
        link_watchers_.push_back(&timer);
        auto [ec] = co_await timer.async_wait(use_tuple);
        std::erase(link_watchers_, &timer);
        if (!ec)
            co_return asio::error::timed_out;
        if (state_ != state::registered)
            co_return not_open();
    }
}

asio::awaitable<error_code> client_core::dial(std::string id, clock::time_point deadline) {
    if (!options_.directory) // links live and die with the peer's directory entry
        co_return error::no_peer_link;
    auto const* entry = links_.live(id);
    if (!entry)
        co_return error::no_such_client;
    if (entry->endpoint.empty())
        co_return error::no_peer_link;

    asio::steady_timer timer(ex_, deadline);
    intro_result intro;
    intro.timer = &timer;
    auto const ref = next_ref_++;
    intros_[ref] = &intro;
    auto const my_key = link_key();
    write_silent(make_frame(msg::intro_request{id, ref, my_key}));
    while (!intro.done) {
        auto [ec] = co_await timer.async_wait(use_tuple);
        if (!ec && !intro.done) {
            intros_.erase(ref);
            co_return asio::error::timed_out;
        }
    }
    if (intro.ec)
        co_return intro.ec;

    std::string host, port;
    if (!split_host_port(intro.endpoint, host, port))
        co_return error::no_peer_link;
    timer.expires_at(deadline);
    tcp::resolver resolver(ex_);
    auto resolved =
        co_await (resolver.async_resolve(host, port, use_tuple) || timer.async_wait(use_tuple));
    if (resolved.index() == 1)
        co_return asio::error::timed_out;
    auto [rec, endpoints] = std::get<0>(resolved);
    if (rec)
        co_return rec;
    tcp::socket socket(ex_);
    auto connected =
        co_await (asio::async_connect(socket, endpoints, use_tuple) || timer.async_wait(use_tuple));
    if (connected.index() == 1)
        co_return asio::error::timed_out;
    if (auto ec = std::get<0>(std::get<0>(connected)))
        co_return ec;
    if (state_ != state::registered || leaving_links_)
        co_return not_open();
    if (links_.contains(id))
        co_return error_code{}; // the peer dialed us meanwhile, and won
    auto stream = transport(std::move(socket));
    if (!intro.link_key.empty()) {
        if (!options_.encrypt_links) // the peer takes TLS only; we were told not to
            co_return error::no_peer_link;
        if (auto ec = co_await secure_dial(stream, intro.link_key, timer))
            co_return ec;
        if (state_ != state::registered || leaving_links_)
            co_return not_open();
        if (links_.contains(id))
            co_return error_code{};
    }

    auto link = std::make_shared<peer_link>(std::move(stream), options_, this, true);
    link->peer = id;
    link->id = random_u64() | 1; // never 0
    link->expect_proof = std::move(intro.proof);
    link->set_deadline(deadline, error::hello_timeout);
    link->enqueue(make_frame(msg::peer_hello{protocol_version, id_, intro.token, link->id}));
    links_.add_dialed(link);
    spawn_link(std::move(link));
    co_return error_code{};
}

void client_core::on_introduction(frame_view f) {
    msg::introduction m;
    if (msg::decode(f, m))
        return;
    auto it = intros_.find(m.ref);
    if (it == intros_.end())
        return; // its dial gave up
    auto& r = *it->second;
    r.endpoint = std::string(m.endpoint);
    r.token = std::string(m.token);
    r.proof = std::string(m.proof);
    r.link_key = std::string(m.link_key);
    r.done = true;
    r.timer->cancel();
    intros_.erase(it);
}

bool client_core::on_intro_error(const msg::error& e) {
    if (e.ref_type != static_cast<std::uint16_t>(frame_type::intro_request))
        return false;
    auto fail = [&](auto it) {
        it->second->ec = from_wire(e.code);
        it->second->done = true;
        it->second->timer->cancel();
        return intros_.erase(it);
    };
    if (auto it = intros_.find(e.ref); it != intros_.end())
        fail(it);
    else if (e.code == static_cast<std::uint16_t>(error::unknown_type))
        for (auto it = intros_.begin(); it != intros_.end();) // a server without links
            it = fail(it);
    return true;
}

} // namespace libnet::detail
