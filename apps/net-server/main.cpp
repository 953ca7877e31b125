// SPDX-License-Identifier: BSL-1.0
// net-server: runs a libnet server. Its first stdout line is the bound HOST:PORT; joins,
// leaves and terminations are logged to stderr; stats go to stderr on exit and SIGUSR1.

#include "app_support.hpp"
#include "log_lines.hpp"
#include "metrics_http.hpp"
#include "metrics_text.hpp"
#include "settings.hpp"

#include <libnet/access.hpp>
#include <libnet/server.hpp>
#include <libnet/store.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/program_options.hpp>

#include <csignal>
#include <iostream>
#include <sstream>
#include <thread>
#include <vector>

namespace asio = boost::asio;

namespace {

using net_server::settings;

/// The stats line (SIGUSR1 and exit): a log line that no --log-level holds back.
void print_stats(const settings& s, libnet::server& server) {
    std::ostringstream stats;
    stats << "stats: " << server.stats();
    std::cerr << app::log_line(s.log_format, "net-server", libnet::log_level::info, stats.str())
              << std::endl;
}

/// --metrics's pages, labelled with the cluster's node id, else the server's address.
std::map<std::string, app::http_page> metrics_pages(const libnet::server& server) {
    auto page = [&server, address = app::endpoint_text(server.local_endpoint())](auto format) {
        return [&server, address, format] {
            auto const stats = server.stats();
            return format(stats, app::metrics_labels{stats.node.empty() ? address : stats.node,
                                                     libnet::library_version()});
        };
    };
    std::map<std::string, app::http_page> pages;
    pages["/metrics"] = {"text/plain; version=0.0.4; charset=utf-8", page(&app::prometheus_text)};
    pages["/varz"] = {"application/json", page(&app::varz_json)};
    return pages;
}

} // namespace

int main(int argc, char** argv) {
    settings s;
    try {
        s = net_server::parse(argc, argv);
    } catch (const app::usage_error& e) {
        std::cerr << "net-server: " << e.what() << "\nTry 'net-server --help'.\n";
        return 2;
    }

    try {
        if (s.server.cluster.servers.empty())
            s.server.store = libnet::open_store(s.store_spec, s.full_sync);
    } catch (const std::exception& e) {
        std::cerr << "net-server: " << e.what() << "\n";
        return 1;
    }
    asio::io_context ioc(static_cast<int>(s.threads));
    std::optional<libnet::server> server;
    try {
        server.emplace(ioc.get_executor(), s.server);
    } catch (const boost::system::system_error& e) {
        std::cerr << "net-server: cannot listen on " << s.server.host << ":" << s.server.port
                  << ": " << e.code().message() << "\n";
        return 1;
    } catch (const std::exception& e) { // the cluster: unreachable, or a bad name
        std::cerr << "net-server: " << e.what() << "\n";
        return 1;
    }
    std::optional<app::metrics_http> metrics;
    try {
        if (s.metrics)
            metrics.emplace(ioc.get_executor(), s.metrics->host, s.metrics->port,
                            metrics_pages(*server));
    } catch (const boost::system::system_error& e) {
        std::cerr << "net-server: cannot serve metrics on " << s.metrics->host << ":"
                  << s.metrics->port << ": " << e.code().message() << "\n";
        return 1;
    }
    asio::signal_set signals(ioc, SIGINT, SIGTERM, SIGUSR1);
    signals.add(SIGHUP);
    std::function<void(boost::system::error_code, int)> on_signal =
        [&](boost::system::error_code ec, int sig) {
            if (ec)
                return;
            if (sig == SIGUSR1 || sig == SIGHUP) {
                if (sig == SIGUSR1)
                    print_stats(s, *server);
                else
                    s.access.reload(*server, s.server.log);
                signals.async_wait(on_signal);
                return;
            }
            server->stop(libnet::msg::term_reason::shutdown);
        };
    signals.async_wait(on_signal);

    // Only now, with the signals handled, tell the world where we are: a script may
    // signal the moment it has read this line.
    std::cout << app::endpoint_text(server->local_endpoint()) << std::endl;
    if (s.server.udp.enabled)
        std::cout << "udp " << app::endpoint_text(server->udp_endpoint()) << std::endl;
    if (metrics) {
        std::cout << "metrics " << app::endpoint_text(metrics->local_endpoint()) << std::endl;
        metrics->start();
    }

    int status = 0;
    server->async_run([&](libnet::error_code ec) {
        if (ec) {
            std::cerr << "net-server: " << ec.message() << "\n";
            status = 1;
        }
        signals.cancel();
        if (metrics)
            metrics->stop();
    });

    std::vector<std::thread> pool;
    for (unsigned i = 1; i < s.threads; ++i)
        pool.emplace_back([&ioc] { ioc.run(); });
    ioc.run();
    for (auto& t : pool)
        t.join();
    print_stats(s, *server);
    return status;
}
