// SPDX-License-Identifier: BSL-1.0
#include "fleet.hpp"
#include "libnet_client.hpp"
#include "nats_client.hpp"

#include <iostream>

namespace bench {

namespace {

// Failures printed one by one; the rest are only counted.
constexpr std::size_t failures_shown = 10;

} // namespace

fleet::fleet(boost::asio::io_context& ioc, const target& t, std::size_t n, std::size_t expect)
    : target_(t), grace_(ioc) {
    clients_.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        auto id = t.prefix + std::to_string(i);
        if (t.nats)
            clients_.push_back(std::make_unique<nats_client>(ioc, *this, i, std::move(id)));
        else
            clients_.push_back(std::make_unique<libnet_client>(
                ioc, *this, i, std::move(id),
                libnet_client::options{.no_directory = t.no_directory, .expect = expect}));
    }
}

void fleet::start(std::function<void()> on_settled) {
    on_settled_ = std::move(on_settled);
    start_ = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < clients_.size(); ++i)
        clients_[i]->start(i % 2 == 1 && target_.second ? *target_.second : target_.server);
}

double fleet::since_start() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void fleet::on_connected(raw_client&) {
    if (++connected + connect_failed == size())
        connect_seconds = since_start();
}

void fleet::on_registered(raw_client&) {
    ++registered;
}

void fleet::on_ready(raw_client&) {
    ++ready;
    check_settled();
}

void fleet::on_messages(raw_client& c, std::size_t n) {
    if (message_handler)
        message_handler(c, n);
}

void fleet::on_failure(raw_client& c, failure kind, std::string_view what) {
    switch (kind) {
    case failure::connect:
        if (++connect_failed + connected == size())
            connect_seconds = since_start();
        break;
    case failure::reset:
        ++resets;
        break;
    case failure::error:
        ++errors;
        break;
    case failure::protocol:
        ++protocol_errors;
        break;
    }
    auto const line = c.id() + ": " + std::string(what);
    if (first_failure.empty())
        first_failure = line;
    if (failures() <= failures_shown)
        std::cerr << "net-bench: " << line << std::endl;
    if (failures() == failures_shown + 1)
        std::cerr << "net-bench: (further failures are only counted)" << std::endl;
    if (!c.is_ready())
        ++lost_;
    if (failure_handler)
        failure_handler(line);
    check_settled();
}

void fleet::check_settled() {
    if (settled_ || ready + lost_ < size())
        return;
    settled_ = true;
    ready_seconds = since_start();
    if (on_settled_)
        on_settled_();
}

void fleet::close_all(std::chrono::milliseconds grace, std::function<void()> done) {
    on_closed_all_ = std::move(done);
    open_ = size();
    grace_.expires_after(grace);
    grace_.async_wait([this](boost::system::error_code ec) {
        if (ec)
            return;
        for (auto& c : clients_)
            c->close_now();
        closed_all();
    });
    for (auto& c : clients_)
        c->close_gracefully();
}

void fleet::on_closed(raw_client&) {
    if (open_ > 0 && --open_ == 0) {
        grace_.cancel();
        closed_all();
    }
}

void fleet::closed_all() {
    if (auto done = std::move(on_closed_all_)) {
        on_closed_all_ = nullptr;
        done();
    }
}

std::uint64_t fleet::bytes_in() const {
    std::uint64_t sum = 0;
    for (auto const& c : clients_)
        sum += c->bytes_in;
    return sum;
}

std::uint64_t fleet::frames_in() const {
    std::uint64_t sum = 0;
    for (auto const& c : clients_)
        sum += c->frames_in;
    return sum;
}

std::string fleet::progress() const {
    auto text = std::to_string(connected) + "/" + std::to_string(size()) + " connected, " +
                std::to_string(registered) + " registered, " + std::to_string(ready) + " complete";
    if (failures() > 0)
        text += ", " + std::to_string(failures()) + " failed (first: " + first_failure + ")";
    return text;
}

} // namespace bench
