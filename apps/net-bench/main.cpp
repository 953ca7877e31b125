// SPDX-License-Identifier: BSL-1.0
// net-bench: a load generator for libnet servers (and, for comparison, nats-server).
// Raw wire clients on one event loop; progress on stderr about once a second; one
// key=value result line on stdout. Exit status 0: done, 1: the run failed, 2: bad usage.

#include "app_support.hpp"
#include "run.hpp"

#include <libnet/client_id.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/program_options.hpp>

#include <cmath>
#include <iostream>
#include <string>
#include <sys/resource.h>

namespace po = boost::program_options;

namespace {

constexpr char const* overview = R"txt(net-bench: load generator for a libnet server

Usage: net-bench SUBCOMMAND [options]      (net-bench SUBCOMMAND --help for its options)
       net-bench --version

Subcommands:
  storm      N clients connect at once and register; each is complete once it holds the
             whole directory (--no-directory: once registered)
  route      N clients in a ring, client i sends to i+1 with W messages in flight per
             pair, for T seconds once all are ready; reports msg/s
  pingpong   two clients, one message in flight; reports round-trip percentiles

--nats drives a nats-server instead (client i subscribes to subject <prefix>i and
publishes to <prefix>i+1; storm: CONNECT, SUB and PING, complete on PONG).
Progress goes to stderr about once a second; the result is one line of key=value pairs
on stdout. Exit status: 0 done, 1 the run failed or timed out, 2 bad arguments.
)txt";

struct command_line {
    std::string command;
    std::string host = "127.0.0.1";
    long long port = 7000;
    long long port2 = 0;
    bench::target target;
    long long clients = 0, window = 64, size = 64, count = 10000;
    double seconds = 5;
    double hold = 0;
    long long server_pid = 0;
};

po::options_description describe(command_line& c) {
    po::options_description d("Options of net-bench " + c.command);
    // clang-format off
    d.add_options()
        ("help,h", "show this help and exit")
        ("host", po::value(&c.host)->default_value(c.host), "server address or host name")
        ("port", po::value(&c.port)->default_value(c.port), "server port")
        ("port2", po::value(&c.port2)->default_value(0),
         "a second server of the same cluster on the same host: odd-numbered clients "
         "connect to it, so every routed message crosses nodes (0: none)")
        ("timeout", po::value(&c.target.timeout)->default_value(60),
         "seconds the whole run may take before it fails")
        ("id-prefix", po::value(&c.target.prefix)->default_value(c.target.prefix),
         "client i registers as (NATS: subscribes to) PREFIX + i")
        ("nats", po::bool_switch(&c.target.nats), "drive a nats-server instead of net-server");
    if (c.command != "pingpong")
        d.add_options()("clients", po::value(&c.clients)->default_value(
                                       c.command == "storm" ? 1000 : 16), "number of clients");
    if (c.command == "route")
        d.add_options()
            ("window", po::value(&c.window)->default_value(c.window),
             "messages in flight per sender-receiver pair")
            ("seconds", po::value(&c.seconds)->default_value(c.seconds),
             "how long to send, once every client is ready");
    if (c.command == "storm")
        d.add_options()
            ("hold", po::value(&c.hold)->default_value(c.hold),
             "seconds every client stays connected and idle once all are complete")
            ("server-pid", po::value(&c.server_pid)->default_value(0),
             "the server's process id: report its resident memory before the storm and at "
             "the end of --hold, and per client (same machine only)");
    if (c.command != "storm")
        d.add_options()("size", po::value(&c.size)->default_value(c.size), "message body bytes");
    if (c.command == "pingpong")
        d.add_options()("count", po::value(&c.count)->default_value(c.count), "round trips");
    d.add_options()
        ("no-directory", po::bool_switch(&c.target.no_directory),
         "HELLO with the no-directory flag: no DIRECTORY, JOINED or LEFT; a client is "
         "ready on WELCOME");
    // clang-format on
    return d;
}

void check_range(const char* name, long long v, long long min, long long max) {
    if (v < min || v > max)
        throw app::usage_error(std::string("--") + name + " must be between " +
                               std::to_string(min) + " and " + std::to_string(max));
}

void check_seconds(const char* name, double v) {
    if (!std::isfinite(v) || v <= 0 || v > 1e6)
        throw app::usage_error(std::string("--") + name + " must be a positive number of seconds");
}

void check_prefix(const command_line& c) {
    auto const& p = c.target.prefix;
    auto const last = p + std::to_string(std::max(c.clients, 2LL) - 1);
    if (c.target.nats) {
        if (p.find_first_of(" \t\r\n*>") != std::string::npos)
            throw app::usage_error("--id-prefix must not hold spaces, '*' or '>' with --nats");
    } else if (!libnet::is_valid_client_id(last)) {
        throw app::usage_error("--id-prefix: '" + last +
                               "' is not a valid client id (1-64 bytes of UTF-8, no spaces)");
    }
}

void validate(command_line& c) {
    check_range("port", c.port, 1, 65535);
    check_range("port2", c.port2, 0, 65535);
    check_seconds("timeout", c.target.timeout);
    if (c.command == "storm") {
        check_range("clients", c.clients, 1, 1000000);
        if (!std::isfinite(c.hold) || c.hold < 0 || c.hold + 1 >= c.target.timeout)
            throw app::usage_error("--hold must be 0 or more seconds, less than --timeout");
        check_range("server-pid", c.server_pid, 0, 1 << 30);
    }
    if (c.command == "route") {
        check_range("clients", c.clients, 1, 100000);
        check_range("window", c.window, 1, 1000000);
        check_seconds("seconds", c.seconds);
        if (c.seconds >= c.target.timeout)
            throw app::usage_error("--timeout must be longer than --seconds");
    }
    if (c.command != "storm")
        check_range("size", c.size, 0, 1000000);
    if (c.command == "pingpong")
        check_range("count", c.count, 1, 100000000);
    if (c.target.nats && c.target.no_directory)
        throw app::usage_error("--no-directory is for libnet servers: NATS has no directory");
    check_prefix(c);
}

/// Parses the command line; returns false when --help was shown.
bool parse(int argc, char** argv, command_line& c) {
    if (argc < 2)
        throw app::usage_error("missing SUBCOMMAND (storm, route or pingpong)");
    c.command = argv[1];
    if (c.command == "--version") {
        app::print_version("net-bench");
        return false;
    }
    if (c.command == "--help" || c.command == "-h") {
        std::cout << overview;
        return false;
    }
    if (c.command != "storm" && c.command != "route" && c.command != "pingpong")
        throw app::usage_error("unknown subcommand '" + c.command +
                               "' (expected storm, route or pingpong)");
    auto const desc = describe(c);
    po::variables_map vm;
    try {
        po::positional_options_description none; // rejects stray words
        po::store(po::command_line_parser(argc - 1, argv + 1).options(desc).positional(none).run(),
                  vm);
        po::notify(vm);
    } catch (const po::error& e) {
        throw app::usage_error(e.what());
    }
    if (vm.count("help")) {
        std::cout << desc;
        return false;
    }
    validate(c);
    return true;
}

/// Raises the soft limit on open files to the hard limit; returns the limit.
rlim_t raise_file_limit() {
    rlimit r{};
    if (getrlimit(RLIMIT_NOFILE, &r) != 0)
        return 1024;
    if (r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        setrlimit(RLIMIT_NOFILE, &r);
        getrlimit(RLIMIT_NOFILE, &r);
    }
    return r.rlim_cur;
}

int run(command_line& c) {
    auto const limit = raise_file_limit();
    if (c.command == "storm" && static_cast<rlim_t>(c.clients) + 16 > limit) {
        std::cerr << "net-bench: " << c.clients << " clients need more open files than the limit ("
                  << limit << ", the hard limit; see ulimit -Hn)\n";
        return 1;
    }
    boost::system::error_code ec;
    boost::asio::io_context ioc;
    auto const found =
        boost::asio::ip::tcp::resolver(ioc).resolve(c.host, std::to_string(c.port), ec);
    if (ec || found.empty()) {
        std::cerr << "net-bench: cannot resolve " << c.host << ": " << ec.message() << "\n";
        return 1;
    }
    c.target.server = found.begin()->endpoint();
    if (c.port2 != 0)
        c.target.second = boost::asio::ip::tcp::endpoint(c.target.server.address(),
                                                         static_cast<std::uint16_t>(c.port2));
    auto const n = static_cast<std::size_t>(c.clients);
    auto const size = static_cast<std::size_t>(c.size);
    if (c.command == "storm")
        return bench::run_storm(
            c.target,
            {.clients = n, .hold = c.hold, .server_pid = static_cast<long>(c.server_pid)});
    if (c.command == "route")
        return bench::run_route(c.target, {.clients = n,
                                           .window = static_cast<std::size_t>(c.window),
                                           .size = size,
                                           .seconds = c.seconds});
    return bench::run_pingpong(c.target,
                               {.size = size, .count = static_cast<std::size_t>(c.count)});
}

} // namespace

int main(int argc, char** argv) {
    command_line c;
    try {
        if (!parse(argc, argv, c))
            return 0;
    } catch (const app::usage_error& e) {
        std::cerr << "net-bench: " << e.what() << "\nTry 'net-bench --help'.\n";
        return 2;
    }
    try {
        return run(c);
    } catch (const std::exception& e) {
        std::cerr << "net-bench: " << e.what() << "\n";
        return 1;
    }
}
