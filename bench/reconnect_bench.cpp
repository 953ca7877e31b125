// SPDX-License-Identifier: BSL-1.0
// A reconnection storm: N clients with client_options::reconnect on one server, which
// stops (TERM shutdown); a new server starts on the same port at once. Reports how long
// until every client is registered again and has caught up with the directory, and each
// client's time back (p50, p99), from the new server's start.
//
// Usage: reconnect_bench [--no-directory] CLIENTS...   (default: 1000)

#include "harness.hpp"

#include <cstring>

namespace {

using namespace bench;
using clock = std::chrono::steady_clock;

struct fleet {
    asio::io_context ioc;
    std::vector<std::unique_ptr<libnet::client>> clients;
    std::vector<clock::time_point> back; // when each client's reconnected came
    std::vector<std::size_t> known;      // each client's directory, as its events say
    std::size_t connected = 0, returned = 0, ended = 0, settled = 0, expected = 0;
    unsigned most_attempts = 0;

    // Receives until the session ends, noting the reconnected event.
    void drain(std::size_t i) {
        clients[i]->async_receive([this, i](libnet::error_code ec, libnet::event ev) {
            if (ec) {
                ++ended;
                return;
            }
            if (std::holds_alternative<libnet::peer_joined>(ev) && ++known[i] == expected)
                ++settled;
            if (std::holds_alternative<libnet::peer_left>(ev) && known[i]-- == expected)
                --settled;
            if (auto* r = std::get_if<libnet::reconnected>(&ev)) {
                back[i] = clock::now();
                most_attempts = std::max(most_attempts, r->attempts);
                ++returned;
            }
            drain(i);
        });
    }

    // Runs the clients' io_context until `done` or the deadline; false on the deadline.
    template <class Done>
    bool run_until(Done done, std::chrono::seconds limit) {
        auto const deadline = clock::now() + limit;
        while (!done() && clock::now() < deadline)
            ioc.run_one_until(deadline);
        return done();
    }
};

libnet::server_options server_at(std::uint16_t port) {
    libnet::server_options o;
    o.port = port;
    o.max_frame = 16u << 20; // the snapshot of a large directory is one frame
    return o;
}

int storm(std::size_t n, bool directory) {
    auto first = std::make_unique<hosted_server>(server_at(0), 1);
    auto const port = first->port();
    fleet f;
    f.back.resize(n);
    f.known.resize(n);
    f.expected = directory ? n : 0;
    for (std::size_t i = 0; i < n; ++i) {
        libnet::client_options o;
        o.id = "c" + std::to_string(i);
        o.directory = directory;
        o.max_frame = 16u << 20;
        o.reconnect.enabled = true;
        o.connect_timeout = std::chrono::seconds(60);
        f.clients.push_back(std::make_unique<libnet::client>(f.ioc.get_executor(), o));
        f.clients.back()->async_connect("127.0.0.1", port, [&f, i](libnet::error_code ec) {
            check(ec, "connect");
            ++f.connected;
            f.known[i] = f.clients[i]->directory().size();
            if (f.known[i] == f.expected)
                ++f.settled;
            f.drain(i);
        });
    }
    // Everyone online and every directory complete: the storm of joins is over.
    if (!f.run_until([&] { return f.connected == n && f.settled == n; }, std::chrono::seconds(120)))
        throw std::runtime_error("the clients did not all connect");

    auto const stop = clock::now();
    first->stop(); // TERM(shutdown) to everyone; the clients answer as it drains
    f.run_until([&] { return first->finished(); }, std::chrono::seconds(30));
    first.reset(); // the port is free again
    auto const start = clock::now();
    hosted_server second(server_at(static_cast<std::uint16_t>(std::stoi(port))), 1);
    if (!f.run_until([&] { return f.returned == n && f.settled == n; }, std::chrono::seconds(120)))
        throw std::runtime_error(std::to_string(n - f.returned) + " clients did not come back");
    auto const settled = clock::now();

    std::vector<double> secs;
    for (auto const& t : f.back)
        secs.push_back(std::chrono::duration<double>(t - start).count());
    std::sort(secs.begin(), secs.end());
    auto const st = second.stats();
    std::cout << "clients=" << n << " directory=" << (directory ? "yes" : "no")
              << " all_back_s=" << secs.back()
              << " directories_whole_s=" << std::chrono::duration<double>(settled - start).count()
              << " p50_s=" << secs[secs.size() / 2] << " p99_s=" << secs[secs.size() * 99 / 100]
              << " most_attempts=" << f.most_attempts
              << " old_server_stop_s=" << std::chrono::duration<double>(start - stop).count()
              << " registrations=" << st.registrations << " refused=" << st.refused << std::endl;

    for (auto& c : f.clients)
        c->async_close([](libnet::error_code) {});
    f.run_until([&] { return f.ended == n; }, std::chrono::seconds(60));
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    bool directory = true;
    std::vector<std::size_t> sizes;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--no-directory") == 0)
            directory = false;
        else
            sizes.push_back(std::stoul(argv[i]));
    }
    if (sizes.empty())
        sizes.push_back(1000);
    try {
        for (auto n : sizes)
            storm(n, directory);
    } catch (const std::exception& e) {
        std::cerr << "reconnect_bench: " << e.what() << std::endl;
        return 1;
    }
}
