// SPDX-License-Identifier: BSL-1.0
#include <libnet/blocking_client.hpp>

#include <boost/asio/use_future.hpp>

#include <future>

namespace libnet {

namespace asio = boost::asio;

blocking_client::blocking_client(client_options options)
    : work_(ioc_.get_executor()), client_(ioc_.get_executor(), std::move(options)),
      thread_([this] { ioc_.run(); }) {}

blocking_client::~blocking_client() {
    try {
        if (client_.is_connected())
            close();
    } catch (...) {
        // A destructor must not throw; the connection is closed below either way.
    }
    work_.reset();
    ioc_.stop();
    thread_.join();
}

// The operations complete on the I/O thread; a future rethrows the error code as system_error.
void blocking_client::connect(const std::string& host, const std::string& port) {
    client_.async_connect(host, port, asio::use_future).get();
}

void blocking_client::send(const std::string& to, const std::string& body) {
    client_.async_send(to, body, asio::use_future).get();
}

void blocking_client::send(const std::string& to, const std::string& body, route how) {
    client_.async_send(to, body, how, asio::use_future).get();
}

void blocking_client::send_app(std::uint16_t type, const std::string& to, const std::string& body,
                               route how) {
    client_.async_send_app(type, to, body, how, asio::use_future).get();
}

receipt blocking_client::send_confirmed(const std::string& to, const std::string& body) {
    return client_.async_send_confirmed(to, body, asio::use_future).get();
}

receipt blocking_client::broadcast_confirmed(const std::string& body) {
    return client_.async_broadcast_confirmed(body, asio::use_future).get();
}

std::vector<message> blocking_client::fetch(std::size_t max) {
    return client_.async_fetch(max, asio::use_future).get();
}

std::optional<peer_info> blocking_client::lookup(const std::string& id) {
    return client_.async_lookup(id, asio::use_future).get();
}

void blocking_client::connect_peer(const std::string& id) {
    client_.async_connect_peer(id, asio::use_future).get();
}

void blocking_client::broadcast(const std::string& body) {
    client_.async_broadcast(body, asio::use_future).get();
}

std::optional<event> blocking_client::receive(std::chrono::milliseconds timeout) {
    std::promise<std::pair<error_code, event>> done;
    auto result = done.get_future();
    client_.async_receive(timeout, [&done](error_code ec, event ev) {
        done.set_value({ec, std::move(ev)});
    });
    auto [ec, ev] = result.get();
    if (ec == asio::error::timed_out)
        return std::nullopt;
    if (ec)
        throw boost::system::system_error(ec);
    return std::move(ev);
}

void blocking_client::terminate(const std::string& text) {
    client_.async_terminate(text, asio::use_future).get();
}

void blocking_client::close() {
    client_.async_close(asio::use_future).get();
}

} // namespace libnet
