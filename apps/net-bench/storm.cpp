// storm: N clients connect at once; each is complete once it holds the whole directory
// (or, with --no-directory and against NATS, once registered).

#include "fleet.hpp"
#include "run.hpp"

namespace bench {

namespace {

// How long the clients may take to say goodbye and be closed by the server.
constexpr std::chrono::seconds close_grace{5};

void print(const target& t, const storm_options& o, bool directory, double seconds,
           const fleet& clients) {
    result_line()
        .add("bench", "storm")
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
        .add("frames_in", clients.frames_in())
        .print();
}

} // namespace

int run_storm(const target& t, const storm_options& o) {
    boost::asio::io_context ioc(1);
    bool const directory = !t.nats && !t.no_directory;
    fleet clients(ioc, t, o.clients, directory ? o.clients : 0);
    runner run(ioc, "storm", t.timeout);
    double seconds = 0;

    run.start([&] { return clients.progress(); },
              [&] {
                  seconds = run.elapsed();
                  clients.close_all(close_grace, [] {});
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

    print(t, o, directory, seconds, clients);
    return run.report();
}

} // namespace bench
