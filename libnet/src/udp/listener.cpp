// SPDX-License-Identifier: BSL-1.0
#include "../wire/peer_token.hpp"
#include "listener.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/endian/conversion.hpp>

namespace libnet::detail::udp {

namespace asio = boost::asio;

listener::listener(asio::any_io_executor ex, const endpoint& bind, const server_udp& options,
                   strand_fn strand)
    : strand_(asio::make_strand(ex)), socket_(strand_), options_(options),
      limits_(limits_of(options.transport)), make_strand_(std::move(strand)),
      jar_(options.cookie_lifetime) {
    limits_.keepalive = std::chrono::milliseconds(0); // the client keeps its NAT open
    socket_.open(bind.protocol());
    socket_.bind(bind);
    socket_.non_blocking(true); // sends never wait: a datagram the kernel can't take is lost
    boost::system::error_code ignored;
    socket_.set_option(asio::socket_base::receive_buffer_size(4 << 20), ignored);
    socket_.set_option(asio::socket_base::send_buffer_size(4 << 20), ignored);
    local_ = socket_.local_endpoint();
}

void listener::start(open_fn open) {
    open_ = std::move(open);
    asio::co_spawn(strand_, receive_loop(shared_from_this()), asio::detached);
}

void listener::stop_accepting() {
    accepting_ = false;
}

void listener::close() {
    accepting_ = false;
    std::vector<std::shared_ptr<stream>> open;
    {
        std::lock_guard lock(mutex_);
        for (auto const& [cid, weak] : sessions_)
            if (auto s = weak.lock())
                open.push_back(std::move(s));
    }
    for (auto& s : open) // streams lingering after their session: nothing reaches them now
        asio::post(s->get_executor(), [s] { s->abort(); });
    asio::post(strand_, [self = shared_from_this()] {
        boost::system::error_code ignored;
        self->socket_.close(ignored);
    });
}

std::size_t listener::sessions() const {
    std::lock_guard lock(mutex_);
    return sessions_.size();
}

std::size_t listener::remembered_cookies() const {
    return used_count_.load();
}

void listener::send_datagram(std::span<const std::uint8_t> d, const endpoint& to) {
    boost::system::error_code ignored; // lost like any datagram; the sender retransmits
    socket_.send_to(asio::buffer(d.data(), d.size()), to, 0, ignored);
}

void listener::stream_ended(std::uint64_t cid) {
    std::lock_guard lock(mutex_);
    sessions_.erase(cid);
}

std::shared_ptr<stream> listener::find(std::uint64_t cid) {
    std::lock_guard lock(mutex_);
    auto it = sessions_.find(cid);
    return it == sessions_.end() ? nullptr : it->second.lock();
}

asio::awaitable<void>
listener::receive_loop(std::shared_ptr<listener> /*self: alive while reading*/) {
    std::vector<std::uint8_t> buf(max_datagram);
    endpoint from;
    for (;;) {
        auto [ec, n] = co_await socket_.async_receive_from(asio::buffer(buf), from,
                                                           asio::as_tuple(asio::use_awaitable));
        if (ec == asio::error::operation_aborted || !socket_.is_open())
            break;
        if (!ec)
            handle({buf.data(), n}, from);
    }
}

void listener::handle(std::span<const std::uint8_t> bytes, const endpoint& from) {
    auto const r = decode(bytes);
    if (!r.value)
        return; // not ours, or broken: nothing is said to an unproven address
    if (auto* init = std::get_if<init_datagram>(&*r.value))
        return on_init(*init, from, bytes.size());
    std::uint64_t cid = 0;
    if (auto* d = std::get_if<data_datagram>(&*r.value))
        cid = d->cid;
    else if (auto* p = std::get_if<path_datagram>(&*r.value); p && p->response)
        cid = p->cid;
    else if (auto* rs = std::get_if<reset_datagram>(&*r.value))
        cid = rs->cid;
    else
        return; // COOKIE, ACCEPT, CHALLENGE: the server's own kinds
    auto s = find(cid);
    if (!s) {
        if (!std::holds_alternative<reset_datagram>(*r.value)) {
            std::uint8_t out[reset_size]; // smaller than any DATA or RESPONSE
            send_datagram({out, encode(reset_datagram{cid}, out)}, from);
        }
        return;
    }
    // The session's strand decodes its own copy.
    asio::post(s->get_executor(),
               [s, from, copy = std::vector<std::uint8_t>(bytes.begin(), bytes.end())] {
                   auto const r = decode(copy);
                   if (auto* d = std::get_if<data_datagram>(&*r.value))
                       s->on_data(*d, from, copy.size());
                   else if (auto* p = std::get_if<path_datagram>(&*r.value))
                       s->on_path(*p, from);
                   else if (from == s->peer())
                       s->on_reset();
               });
}

void listener::on_init(const init_datagram& d, const endpoint& from, std::size_t size) {
    if (!accepting_.load())
        return;
    auto const now = cookie_jar::clock::now();
    forget_cookies(now);
    if (d.cookie && jar_.check(*d.cookie, from, d.nonce, now) == cookie_jar::verdict::valid) {
        auto const key = boost::endian::load_big_u64(d.cookie->data() + 4);
        if (auto it = used_.find(key); it != used_.end()) {
            // The same INIT again: its ACCEPT was lost. Anything else is a replay.
            auto const& u = it->second;
            if (u.from == from && u.nonce == d.nonce && find(u.cid))
                send_accept(u.nonce, u.cid, from);
            return;
        }
        return open(d, from, key);
    }
    // No cookie, or one forged or too old: a fresh one, never larger than what came.
    if (size < cookie_datagram_size)
        return;
    std::uint8_t out[cookie_datagram_size];
    send_datagram({out, encode(cookie_datagram{d.nonce, jar_.make(from, d.nonce, now)}, out)},
                  from);
}

void listener::open(const init_datagram& d, const endpoint& from, std::uint64_t key) {
    std::uint64_t cid = 0;
    std::shared_ptr<stream> s;
    {
        std::lock_guard lock(mutex_);
        do
            cid = random_u64();
        while (cid == 0 || sessions_.count(cid) != 0);
        s = std::make_shared<stream>(make_strand_(), shared_from_this(), from, cid, limits_);
        sessions_.emplace(cid, s);
    }
    used_.emplace(key, used_cookie{cid, from, d.nonce,
                                   cookie_jar::clock::now() + options_.cookie_lifetime +
                                       std::chrono::seconds(2)});
    used_count_ = used_.size();
    send_accept(d.nonce, cid, from);
    s->start();
    open_(std::move(s));
}

void listener::send_accept(std::uint64_t nonce, std::uint64_t cid, const endpoint& to) {
    std::uint8_t out[accept_size];
    auto const n =
        encode(accept_datagram{nonce, cid, static_cast<std::uint16_t>(limits_.max_datagram)}, out);
    send_datagram({out, n}, to);
}

void listener::forget_cookies(cookie_jar::clock::time_point now) {
    if (now < next_sweep_)
        return;
    next_sweep_ = now + std::chrono::seconds(1);
    std::erase_if(used_, [now](const auto& e) { return e.second.until < now; });
    used_count_ = used_.size();
}

} // namespace libnet::detail::udp
