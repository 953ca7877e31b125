#include "client_core.hpp"

#include <libnet/client.hpp>

namespace libnet {

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

boost::asio::awaitable<error_code> client::send_op(core_ptr core, std::string to, std::string body,
                                                   bool broadcast) {
    co_return co_await core->send(std::move(to), std::move(body), broadcast);
}

boost::asio::awaitable<std::pair<error_code, event>>
client::receive_op(core_ptr core, std::chrono::steady_clock::time_point deadline) {
    co_return co_await core->receive(deadline);
}

boost::asio::awaitable<error_code> client::terminate_op(core_ptr core, std::string text) {
    co_return co_await core->terminate(std::move(text));
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

} // namespace libnet
