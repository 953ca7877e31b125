// SPDX-License-Identifier: BSL-1.0
// net-client: a line-oriented libnet client. Commands come from stdin (a terminal, a pipe
// or a file); what it learns goes to stdout, one flushed line each, for people and scripts.

#include "app_support.hpp"
#include "line_source.hpp"
#include "output.hpp"
#include "tls_flags.hpp"

#include <libnet/client.hpp>
#include <libnet/client_id.hpp>

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/program_options.hpp>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <deque>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

namespace po = boost::program_options;
namespace asio = boost::asio;
using namespace std::chrono_literals;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

using app::complain;
using app::describe;
using app::parse_count;
using app::say;

constexpr char const* commands = R"txt(Commands (one per line on stdin):
  @ID text     send text to client ID: over the direct link when one is up, else
               through the server
  !ID text     send text to ID through the server and wait for the server's
               confirmation (committed, with a durable store): prints "ok ID" or
               "ok ID (stored)" when ID is offline and gets it at its next login
  * text       broadcast text to every other client
  /link ID     set up a direct link to ID (ID must listen for peers)
  /get [N]     with --pull: fetch up to N (default 100) messages from the mailbox
  /who         print the directory: "= id" per client, "(you)" marks this one and
               "(linked)" the peers with a direct link up
  /who ID      ask the server whether ID is online: "= ID" ("= ID at ENDPOINT" when it
               listens for direct links) or "ID is not online"
               (works with --no-directory too)
  /wait ID [S] wait until ID is online (at most S seconds, default 10)
  /term [text] ask the server to terminate the session for everyone
  /quit        leave (BYE) once everything typed so far is sent; so does end of input
Output: "[from] text" per message ("[from] (direct) text" when it came over a direct
link), "+ id" / "- id" as clients join and leave (the directory on registering
included), "~+ id" / "~- id" as direct links come up and go down, "(stored for ID)"
when a message waits in an offline client's mailbox; errors go to stderr with their
code. Messages that waited in this client's mailbox print like live ones, once each.
"(mailbox empty)" when /get finds nothing. On registering, stderr says "registered as ID
with HOST:PORT (N online)". With --reconnect, stderr says "connection lost (REASON):
reconnecting in S s (attempt N)" and "reconnected as ID after N attempts"; the "+ id" and
"- id" lines that follow are what changed in the directory meanwhile.
Exit status: 0 after /quit, end of input, TERM, or a first SIGINT/SIGTERM (Ctrl-C), which
leave with BYE like /quit; 1 if it cannot register or the connection is lost (with
--reconnect: once the attempts run out, or the server refuses the id); 2 on bad
arguments; 130 on a second SIGINT/SIGTERM (leaves at once, without BYE).)txt";

struct settings {
    app::host_port server;
    libnet::client_options client;
    /// How the server is named in messages: HOST:PORT, or udp://HOST:PORT.
    std::string server_label() const {
        return (client.over_udp ? "udp://" : "") + server.host + ":" + server.port;
    }
};

settings parse(int argc, char** argv) {
    po::options_description d("net-client: a libnet client\n\nOptions");
    std::string server;
    settings s;
    unsigned timeout_s = 10;
    std::string secret, secret_file;
    bool no_directory = false;
    d.add_options()("help,h", "show this help and exit")("version", "show the version and exit")(
        "server", po::value(&server)->required(),
        "server address, HOST:PORT over TCP or udp://HOST:PORT over UDP")(
        "id", po::value(&s.client.id), "id to register under (default: the server assigns one)")(
        "connect-timeout", po::value(&timeout_s)->default_value(timeout_s),
        "seconds to connect and register")(
        "listen", po::value(&s.client.listen),
        "listen for direct links from peers on [HOST:]PORT (PORT 0: any free port; no HOST: "
        "every interface)")("advertise", po::value(&s.client.advertise),
                            "HOST:PORT to advertise for direct links (default: the listening "
                            "port at the address that reaches the server)")(
        "mesh", po::bool_switch(&s.client.mesh),
        "link with every other listening client automatically (needs --listen)")(
        "secret", po::value(&secret), "the id's secret, when the server has one for it")(
        "secret-file", po::value(&secret_file),
        "read the secret from the first line of FILE (keeps it out of the process list)")(
        "pull", po::bool_switch(&s.client.pull),
        "pull mode: messages wait in the mailbox until /get fetches them")(
        "reconnect", po::bool_switch(&s.client.reconnect.enabled),
        "after a lost connection (or the server's shutdown), connect again with backoff "
        "(0.1 s doubling to 5 s), register under the same id and resume the mailbox; "
        "what is typed meanwhile waits")(
        "reconnect-attempts", po::value(&s.client.reconnect.max_attempts)
                                  ->default_value(s.client.reconnect.max_attempts),
        "with --reconnect: attempts before giving up (exit status 1)")(
        "no-directory", po::bool_switch(&no_directory),
        "don't receive the directory or its changes (for large deployments); others still "
        "see this client, and /who ID asks about one id");
    app::tls_flags tls;
    d.add(app::client_tls_options(tls));
    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, d), vm);
        if (vm.count("version")) {
            app::print_version("net-client");
            std::exit(0);
        }
        if (vm.count("help")) {
            std::cout << d << '\n' << commands << '\n';
            std::exit(0);
        }
        po::notify(vm);
    } catch (const po::error& e) {
        throw app::usage_error(e.what());
    }
    if (server.starts_with("udp://")) {
        server.erase(0, 6);
        s.client.over_udp = true;
    }
    s.server = app::parse_host_port(server);
    app::apply_client_tls(tls, vm.count("tls") != 0, s.client.tls);
    if (s.client.over_udp && s.client.tls.context)
        throw app::usage_error("--tls is for TCP: a udp:// server is reached in clear");
    s.client.directory = !no_directory;
    if (vm.count("id") && !libnet::is_valid_client_id(s.client.id))
        throw app::usage_error("--id must be 1-64 bytes of UTF-8 without spaces or controls");
    if (!s.client.listen.empty()) {
        auto const l = s.client.listen.find(':') == std::string::npos ? "*:" + s.client.listen
                                                                      : s.client.listen;
        app::parse_host_port(l, true); // throws usage_error with what is wrong
    }
    if (!s.client.advertise.empty())
        app::parse_host_port(s.client.advertise);
    if (s.client.mesh && s.client.listen.empty())
        throw app::usage_error("--mesh needs --listen");
    if (!s.client.directory && !s.client.listen.empty())
        throw app::usage_error("--no-directory and --listen don't go together: direct links "
                               "follow the directory");
    if (!s.client.advertise.empty() && s.client.listen.empty())
        throw app::usage_error("--advertise needs --listen");
    if (!secret.empty() && !secret_file.empty())
        throw app::usage_error("give --secret or --secret-file, not both");
    if (!secret_file.empty()) {
        std::ifstream in(secret_file);
        if (!in || !std::getline(in, secret))
            throw app::usage_error("can't read a secret from " + secret_file);
        if (!secret.empty() && secret.back() == '\r')
            secret.pop_back();
        if (secret.empty())
            throw app::usage_error(secret_file + ": the secret is empty");
    }
    s.client.credentials = secret;
    s.client.connect_timeout = std::chrono::seconds(timeout_s);
    return s;
}

std::string reconnect_line(const libnet::reconnecting& r) {
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.1f", static_cast<double>(r.delay.count()) / 1000.0);
    return "connection lost (" + r.reason.message() + "): reconnecting in " + secs +
           " s (attempt " + std::to_string(r.attempt) + ")";
}

/// Prints events until the session ends, then stops the input; returns the exit status.
asio::awaitable<int> print_events(libnet::client& c, app::line_source& lines) {
    for (;;) {
        auto [ec, ev] = co_await c.async_receive(use_tuple);
        if (ec) {
            lines.stop();
            if (ec == libnet::error::terminated || ec == libnet::error::not_connected)
                co_return 0;
            complain("connection lost: " + ec.message());
            co_return 1;
        }
        if (auto* m = std::get_if<libnet::message>(&ev))
            say(describe(*m));
        else if (auto* up = std::get_if<libnet::link_up>(&ev))
            say("~+ " + up->id);
        else if (auto* down = std::get_if<libnet::link_down>(&ev))
            say("~- " + down->id + " (" + down->reason.message() + ")");
        else if (auto* j = std::get_if<libnet::peer_joined>(&ev))
            say("+ " + j->peer.id);
        else if (auto* l = std::get_if<libnet::peer_left>(&ev))
            say("- " + l->id);
        else if (auto* e = std::get_if<libnet::server_error>(&ev))
            complain(describe(*e));
        else if (auto* st = std::get_if<libnet::stored>(&ev))
            say("(stored for " +
                (st->to.empty() ? std::to_string(st->offline) + " offline" : st->to) + ")");
        else if (auto* r = std::get_if<libnet::reconnecting>(&ev))
            complain(reconnect_line(*r));
        else if (auto* back = std::get_if<libnet::reconnected>(&ev))
            complain("reconnected as " + c.id() + " after " + std::to_string(back->attempts) +
                     (back->attempts == 1 ? " attempt" : " attempts"));
        else if (auto* t = std::get_if<libnet::terminated>(&ev))
            complain("terminated (" + std::string(libnet::msg::to_string(t->reason)) + ")" +
                     (t->by.empty() ? "" : " by " + t->by) +
                     (t->text.empty() ? "" : ": " + t->text));
    }
}

asio::awaitable<void> wait_for(libnet::client& c, const std::string& id, std::chrono::seconds limit,
                               bool local) {
    asio::steady_timer poll(co_await asio::this_coro::executor);
    auto const deadline = std::chrono::steady_clock::now() + limit;
    auto listed = [&] {
        for (auto const& p : c.directory())
            if (p.id == id)
                return true;
        return false;
    };
    // The directory is a snapshot the client keeps current; a short poll keeps this
    // command independent of the event stream, which print_events owns. Without the
    // directory, the poll asks the server.
    bool online = false;
    for (;;) {
        if (local) {
            online = listed();
        } else {
            auto [ec, found] = co_await c.async_lookup(id, use_tuple);
            online = !ec && found.has_value();
        }
        if (online || std::chrono::steady_clock::now() >= deadline || !c.is_connected())
            break;
        poll.expires_after(local ? 20ms : 100ms);
        co_await poll.async_wait(use_tuple);
    }
    if (!online)
        complain("/wait: " + id + " did not come online");
}

/// Runs the commands read from stdin until /quit, end of input or the session's end.
asio::awaitable<void> run_commands(libnet::client& c, app::line_source& lines, bool directory) {
    while (c.is_connected()) {
        auto line = co_await lines.next();
        if (!line || *line == "/quit")
            break;
        auto const& l = *line;
        libnet::error_code ec;
        if (l.size() > 1 && l[0] == '@') {
            auto const space = l.find(' ');
            auto to = l.substr(1, space == std::string::npos ? std::string::npos : space - 1);
            auto body = space == std::string::npos ? std::string() : l.substr(space + 1);
            std::tie(ec) = co_await c.async_send(std::move(to), std::move(body), use_tuple);
        } else if (l.size() > 1 && l[0] == '!') {
            auto const space = l.find(' ');
            auto to = l.substr(1, space == std::string::npos ? std::string::npos : space - 1);
            auto body = space == std::string::npos ? std::string() : l.substr(space + 1);
            auto [cec, r] = co_await c.async_send_confirmed(to, std::move(body), use_tuple);
            if (cec == libnet::error::not_connected || cec == libnet::error::terminated)
                ec = cec;
            else if (cec)
                complain("!" + to + ": " + describe(cec));
            else
                say("ok " + to + (r.offline ? " (stored)" : ""));
        } else if (l == "/get" || l.rfind("/get ", 0) == 0) {
            std::optional<unsigned long> n = 100;
            if (l.size() > 5)
                n = parse_count(l.substr(5), 100000);
            if (!n) {
                complain("/get N: N must be a whole number from 1 to 100000");
                continue;
            }
            auto [gec, got] = co_await c.async_fetch(*n, use_tuple);
            if (gec)
                complain("/get: " + gec.message());
            else if (got.empty())
                say("(mailbox empty)");
            for (auto const& m : got)
                say(describe(m));
        } else if (l.size() > 1 && l[0] == '*' && l[1] == ' ') {
            auto body = l.substr(2);
            std::tie(ec) = co_await c.async_broadcast(std::move(body), use_tuple);
        } else if (l == "/who") {
            auto const me = c.id();
            auto const linked = c.linked_peers();
            for (auto const& p : c.directory()) {
                bool const up = std::binary_search(linked.begin(), linked.end(), p.id);
                say("= " + p.id + (p.id == me ? " (you)" : "") + (up ? " (linked)" : ""));
            }
        } else if (l.rfind("/who ", 0) == 0) {
            auto id = l.substr(5);
            auto [wec, found] = co_await c.async_lookup(id, use_tuple);
            if (wec)
                complain("/who " + id + ": " + describe(wec));
            else if (found)
                say("= " + found->id + (found->endpoint.empty() ? "" : " at " + found->endpoint));
            else
                say(id + " is not online");
        } else if (l.rfind("/link ", 0) == 0) {
            auto id = l.substr(6);
            auto [lec] = co_await c.async_connect_peer(id, use_tuple);
            if (lec)
                complain("/link " + id + ": " + lec.message());
        } else if (l == "/wait" || l.rfind("/wait ", 0) == 0) {
            std::istringstream in(l.substr(5));
            std::string id, secs_text, extra;
            in >> id >> secs_text >> extra;
            std::optional<unsigned long> secs = 10;
            if (!secs_text.empty())
                secs = parse_count(secs_text, 86400);
            if (id.empty() || !secs || !extra.empty()) {
                complain("/wait ID [S]: S must be whole seconds from 1 to 86400");
                continue;
            }
            co_await wait_for(c, id, std::chrono::seconds(*secs), directory);
        } else if (l == "/term" || l.rfind("/term ", 0) == 0) {
            auto text = l.size() > 6 ? l.substr(6) : std::string();
            std::tie(ec) = co_await c.async_terminate(std::move(text), use_tuple);
        } else if (!l.empty()) {
            complain("don't know '" + l + "' (try --help)");
        }
        if (ec)
            break; // the session ended; print_events reports why
    }
    co_await c.async_close(use_tuple);
}

} // namespace

int main(int argc, char** argv) {
    settings s;
    try {
        s = parse(argc, argv);
    } catch (const app::usage_error& e) {
        std::cerr << "net-client: " << e.what() << "\nTry 'net-client --help'.\n";
        return 2;
    }

    asio::io_context ioc;
    libnet::client c(ioc.get_executor(), s.client);
    app::line_source lines(ioc.get_executor());
    int status = 0;
    // The first SIGINT or SIGTERM leaves as /quit does (BYE, exit 0); a second one exits at
    // once with 130.
    asio::signal_set signals(ioc, SIGINT, SIGTERM);
    bool interrupted = false;
    std::function<void(boost::system::error_code, int)> on_signal =
        [&](boost::system::error_code ec, int) {
            if (ec)
                return;
            if (interrupted)
                std::_Exit(130);
            interrupted = true;
            lines.stop();
            signals.async_wait(on_signal);
        };
    signals.async_wait(on_signal);
    asio::co_spawn(
        ioc,
        [](libnet::client& c, app::line_source& lines, settings s,
           int& status) -> asio::awaitable<void> {
            auto [ec] = co_await c.async_connect(s.server.host, s.server.port, use_tuple);
            if (ec) {
                complain("cannot register with " + s.server_label() + ": " + describe(ec));
                status = 1;
                lines.stop();
                co_return;
            }
            auto const me = c.id();
            complain("registered as " + me + " with " + s.server_label() +
                     (s.client.directory ? " (" + std::to_string(c.directory().size()) + " online)"
                                         : ""));
            for (auto const& p : c.directory())
                if (p.id != me)
                    say("+ " + p.id);
            using namespace asio::experimental::awaitable_operators;
            // Both end with the session: events stop, or the commands close it.
            status =
                co_await (print_events(c, lines) && run_commands(c, lines, s.client.directory));
        }(c, lines, s, status),
        [&signals](std::exception_ptr e) {
            signals.cancel();
            if (e)
                std::rethrow_exception(e);
        });
    ioc.run();
    return status;
}
