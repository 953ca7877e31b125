// SPDX-License-Identifier: BSL-1.0
// The public client: each operation's start_ function moves its arguments and handler onto
// the core's strand (core.hpp, run()), where the core starts it.

#include "core.hpp"

#include <libnet/client.hpp>

namespace libnet {

using detail::pending;

namespace {
// The operation's pending; a coroutine's handler on the client's strand may run inline.
template <class... T>
pending<T...> started(boost::asio::any_completion_handler<void(error_code, T...)> h, bool at_once) {
    pending<T...> p(std::move(h));
    if (at_once)
        p.allow_inline();
    return p;
}
} // namespace

client::client(executor_type ex, client_options options)
    : core_(std::make_shared<detail::client_core>(ex, std::move(options))) {}

client::~client() {
    core_->abort();
}

client::executor_type client::get_executor() const noexcept {
    return core_->get_executor();
}

void client::start_connect(core_ptr core, std::string host, std::string port, handler<> h,
                           const executor_type* resumes) {
    auto& c = *core;
    bool const at_once = c.on_its_strand(resumes);
    c.on_cancel(h.get_cancellation_slot(), detail::client_core::op_kind::connect, 0);
    c.run([core = std::move(core), at_once, host = std::move(host), port = std::move(port),
           h = std::move(h)]() mutable {
        core->connect(std::move(host), std::move(port), started<>(std::move(h), at_once));
    });
}

void client::start_send(core_ptr core, std::uint16_t type, std::string to, std::string body,
                        route how, handler<> h, const executor_type* resumes) {
    auto& c = *core;
    bool const at_once = c.on_its_strand(resumes);
    c.run([core = std::move(core), at_once, type, to = std::move(to), body = std::move(body), how,
           h = std::move(h)]() mutable {
        core->send(type, std::move(to), std::move(body), how, started<>(std::move(h), at_once));
    });
}

void client::start_send_batch(core_ptr core, std::string to, std::vector<std::string> bodies,
                              route how, handler<> h, const executor_type* resumes) {
    auto& c = *core;
    bool const at_once = c.on_its_strand(resumes);
    c.run([core = std::move(core), at_once, to = std::move(to), bodies = std::move(bodies), how,
           h = std::move(h)]() mutable {
        core->send_batch(std::move(to), std::move(bodies), how, started<>(std::move(h), at_once));
    });
}

void client::start_broadcast(core_ptr core, std::string body, handler<> h,
                             const executor_type* resumes) {
    auto& c = *core;
    bool const at_once = c.on_its_strand(resumes);
    c.run([core = std::move(core), at_once, body = std::move(body), h = std::move(h)]() mutable {
        core->broadcast(std::move(body), started<>(std::move(h), at_once));
    });
}

void client::start_confirmed(core_ptr core, std::uint32_t type, std::string to, std::string body,
                             handler<receipt> h, const executor_type* resumes) {
    auto& c = *core;
    bool const at_once = c.on_its_strand(resumes);
    auto const key = c.next_key();
    c.on_cancel(h.get_cancellation_slot(), detail::client_core::op_kind::confirm, key);
    c.run([core = std::move(core), at_once, type, to = std::move(to), body = std::move(body), key,
           h = std::move(h)]() mutable {
        core->send_confirmed(type, std::move(to), std::move(body), key,
                             started<receipt>(std::move(h), at_once));
    });
}

void client::start_fetch(core_ptr core, std::size_t max, handler<std::vector<message>> h,
                         const executor_type* resumes) {
    auto& c = *core;
    bool const at_once = c.on_its_strand(resumes);
    auto const key = c.next_key();
    c.on_cancel(h.get_cancellation_slot(), detail::client_core::op_kind::fetch, key);
    c.run([core = std::move(core), at_once, max, key, h = std::move(h)]() mutable {
        core->fetch(max, key, started<std::vector<message>>(std::move(h), at_once));
    });
}

void client::start_lookup(core_ptr core, std::string id, handler<std::optional<peer_info>> h,
                          const executor_type* resumes) {
    auto& c = *core;
    bool const at_once = c.on_its_strand(resumes);
    c.run([core = std::move(core), at_once, id = std::move(id), h = std::move(h)]() mutable {
        core->lookup(std::move(id), started<std::optional<peer_info>>(std::move(h), at_once));
    });
}

void client::start_connect_peer(core_ptr core, std::string id, handler<> h,
                                const executor_type* resumes) {
    auto& c = *core;
    bool const at_once = c.on_its_strand(resumes);
    c.run([core = std::move(core), at_once, id = std::move(id), h = std::move(h)]() mutable {
        core->connect_peer(std::move(id), started<>(std::move(h), at_once));
    });
}

void client::start_receive(core_ptr core, std::chrono::steady_clock::time_point deadline,
                           handler<event> h, const executor_type* resumes) {
    auto& c = *core;
    bool const at_once = c.on_its_strand(resumes);
    auto const key = c.next_key();
    c.on_cancel(h.get_cancellation_slot(), detail::client_core::op_kind::receive, key);
    c.run([core = std::move(core), at_once, deadline, key, h = std::move(h)]() mutable {
        core->receive(deadline, key, started<event>(std::move(h), at_once));
    });
}

void client::start_receive_batch(core_ptr core, std::size_t max, handler<std::vector<event>> h,
                                 const executor_type* resumes) {
    auto& c = *core;
    bool const at_once = c.on_its_strand(resumes);
    auto const key = c.next_key();
    c.on_cancel(h.get_cancellation_slot(), detail::client_core::op_kind::receive, key);
    c.run([core = std::move(core), at_once, max, key, h = std::move(h)]() mutable {
        core->receive_batch(max, key, started<std::vector<event>>(std::move(h), at_once));
    });
}

void client::start_terminate(core_ptr core, std::string text, handler<> h,
                             const executor_type* resumes) {
    auto& c = *core;
    bool const at_once = c.on_its_strand(resumes);
    c.run([core = std::move(core), at_once, text = std::move(text), h = std::move(h)]() mutable {
        core->terminate(std::move(text), started<>(std::move(h), at_once));
    });
}

void client::start_close(core_ptr core, handler<> h, const executor_type* resumes) {
    auto& c = *core;
    bool const at_once = c.on_its_strand(resumes);
    c.run([core = std::move(core), at_once, h = std::move(h)]() mutable {
        core->close(started<>(std::move(h), at_once));
    });
}

std::string client::id() const {
    return core_->id();
}
std::vector<peer_info> client::directory() const {
    return core_->directory();
}
bool client::is_connected() const {
    return core_->connected();
}
std::vector<std::string> client::linked_peers() const {
    return core_->linked_peers();
}
std::string client::listen_endpoint() const {
    return core_->listen_endpoint();
}

std::uint64_t client::last_delivered() const {
    return core_->last_delivered();
}

bool client::has_mailbox() const {
    return core_->has_mailbox();
}

} // namespace libnet
