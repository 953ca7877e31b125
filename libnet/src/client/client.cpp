#include "core.hpp"

#include <libnet/client.hpp>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

namespace libnet {

namespace asio = boost::asio;

client::client(executor_type ex, client_options options)
    : core_(std::make_shared<detail::client_core>(ex, std::move(options))) {}

client::~client() {
    core_->abort();
}

client::executor_type client::get_executor() const noexcept {
    return core_->get_executor();
}

boost::asio::awaitable<error_code> client::connect_op(core_ptr core, std::string host,
                                                      std::string port) {
    co_return co_await core->connect(std::move(host), std::move(port));
}

boost::asio::awaitable<error_code> client::send_op(core_ptr core, std::uint16_t type,
                                                   std::string to, std::string body, route how) {
    core->slow_op_started();
    co_return co_await core->send(type, std::move(to), std::move(body), how);
}

void client::start_send(core_ptr core, std::uint16_t type, std::string to, std::string body,
                        route how, executor_type handler_ex, send_handler handler) {
    auto ex = core->get_executor();
    asio::dispatch(ex, [core = std::move(core), type, to = std::move(to), body = std::move(body),
                        how, hex = std::move(handler_ex), handler = std::move(handler)]() mutable {
        if (auto done = core->try_send_now(type, to, body, how)) {
            asio::post(hex, [h = std::move(handler), ec = *done]() mutable { std::move(h)(ec); });
            return;
        }
        core->slow_op_queued();
        detail::spawn_op(core->get_executor(),
                         send_op(core, type, std::move(to), std::move(body), how),
                         std::move(handler));
    });
}

void client::start_send_batch(core_ptr core, std::string to, std::vector<std::string> bodies,
                              route how, send_handler handler) {
    auto ex = core->get_executor();
    asio::dispatch(ex, [core = std::move(core), to = std::move(to), bodies = std::move(bodies), how,
                        handler = std::move(handler)]() mutable {
        core->slow_op_queued();
        detail::spawn_op(core->get_executor(),
                         send_batch_op(core, std::move(to), std::move(bodies), how),
                         std::move(handler));
    });
}

void client::start_receive(core_ptr core, std::chrono::steady_clock::time_point deadline,
                           executor_type handler_ex, receive_handler handler) {
    auto ex = core->get_executor();
    asio::dispatch(ex, [core = std::move(core), deadline, hex = std::move(handler_ex),
                        handler = std::move(handler)]() mutable {
        if (auto e = core->try_receive_now()) {
            asio::post(hex, [h = std::move(handler), e = std::move(*e)]() mutable {
                std::move(h)(error_code{}, std::move(e));
            });
            return;
        }
        core->slow_op_queued();
        detail::spawn_op<event>(core->get_executor(), receive_op(core, deadline),
                                std::move(handler));
    });
}

boost::asio::awaitable<error_code>
client::send_batch_op(core_ptr core, std::string to, std::vector<std::string> bodies, route how) {
    core->slow_op_started();
    for (auto& body : bodies) {
        auto ec = co_await core->send(0, to, std::move(body), how);
        if (ec)
            co_return ec;
    }
    co_return error_code{};
}

boost::asio::awaitable<std::pair<error_code, std::vector<event>>>
client::receive_batch_op(core_ptr core, std::size_t max) {
    co_return co_await core->receive_batch(max);
}

boost::asio::awaitable<error_code> client::broadcast_op(core_ptr core, std::string body) {
    co_return co_await core->broadcast(std::move(body));
}

boost::asio::awaitable<error_code> client::connect_peer_op(core_ptr core, std::string id) {
    co_return co_await core->connect_peer(std::move(id));
}

boost::asio::awaitable<std::pair<error_code, event>>
client::receive_op(core_ptr core, std::chrono::steady_clock::time_point deadline) {
    core->slow_op_started();
    co_return co_await core->receive(deadline);
}

boost::asio::awaitable<error_code> client::terminate_op(core_ptr core, std::string text) {
    co_return co_await core->terminate(std::move(text));
}

boost::asio::awaitable<std::pair<error_code, receipt>>
client::confirmed_op(core_ptr core, std::uint32_t type, std::string to, std::string body) {
    co_return co_await core->send_confirmed(type, std::move(to), std::move(body));
}

boost::asio::awaitable<std::pair<error_code, std::vector<message>>>
client::fetch_op(core_ptr core, std::size_t max) {
    co_return co_await core->fetch(max);
}

boost::asio::awaitable<std::pair<error_code, std::optional<peer_info>>>
client::lookup_op(core_ptr core, std::string id) {
    co_return co_await core->lookup(std::move(id));
}

boost::asio::awaitable<error_code> client::close_op(core_ptr core) {
    co_return co_await core->close();
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
