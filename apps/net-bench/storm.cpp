// SPDX-License-Identifier: BSL-1.0
// storm: N clients connect at once; each is complete once it holds the whole directory
// (or, with --no-directory and against NATS, once registered).

#include "fleet.hpp"
#include "run.hpp"

#include <boost/asio/steady_timer.hpp>

#include <cstdlib>
#include <fstream>
#include <string>

namespace bench {

namespace {

// How long the clients may take to say goodbye and be closed by the server.
constexpr std::chrono::seconds close_grace{5};

// Resident memory of process `pid` in kB (VmRSS), or 0 when it can't be read.
std::uint64_t rss_kb(long pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmRSS:", 0) == 0)
            return std::strtoull(line.c_str() + 6, nullptr, 10);
    return 0;
}

struct memory {
    std::uint64_t before_kb = 0, after_kb = 0;
};

void print(const target& t, const storm_options& o, bool directory, double seconds,
           const fleet& clients, const memory& m) {
    auto line = result_line();
    line.add("bench", "storm")
        .add("server", t.nats ? "nats" : "libnet")
        .add("clients", std::uint64_t{o.clients})
        .add("directory", std::uint64_t{directory ? 1u : 0u})
        .add("seconds", seconds)
        .add("connect_seconds", clients.connect_seconds)
        .add("connected", std::uint64_t{clients.connected})
        .add("registered", std::uint64_t{clients.registered})
        .add("complete", std::uint64_t{clients.ready})
        .add("connect_failed", std::uint64_t{clients.connect_failed})
        .add("resets", std::uint64_t{clients.resets})
        .add("errors", std::uint64_t{clients.errors + clients.protocol_errors})
        .add("bytes_in", clients.bytes_in())
        .add("frames_in", clients.frames_in());
    if (o.server_pid != 0) {
        auto const per = o.clients == 0 || m.after_kb < m.before_kb
                             ? 0
                             : (m.after_kb - m.before_kb) * 1024 / o.clients;
        line.add("server_rss_before_kb", m.before_kb)
            .add("server_rss_kb", m.after_kb)
            .add("server_rss_per_client_b", std::uint64_t{per});
    }
    line.print();
}

} // namespace

int run_storm(const target& t, const storm_options& o) {
    boost::asio::io_context ioc(1);
    bool const directory = !t.nats && !t.no_directory;
    fleet clients(ioc, t, o.clients, directory ? o.clients : 0);
    runner run(ioc, "storm", t.timeout);
    double seconds = 0;
    memory mem;
    if (o.server_pid != 0)
        mem.before_kb = rss_kb(o.server_pid);
    boost::asio::steady_timer hold(ioc);

    run.start([&] { return clients.progress(); },
              [&] {
                  seconds = run.elapsed();
                  hold.expires_after(std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::duration<double>(o.hold)));
                  hold.async_wait([&](boost::system::error_code) {
                      if (o.server_pid != 0)
                          mem.after_kb = rss_kb(o.server_pid);
                      clients.close_all(close_grace, [] {});
                  });
              });
    if (directory) // with one client gone, nobody can see every id any more
        clients.failure_handler = [&](const std::string& what) {
            run.finish(what);
        };
    clients.start([&] {
        if (clients.failures() > 0)
            run.finish(std::to_string(clients.failures()) +
                       " clients failed; first: " + clients.first_failure);
        else
            run.finish();
    });
    ioc.run();

    print(t, o, directory, seconds, clients, mem);
    return run.report();
}

} // namespace bench
