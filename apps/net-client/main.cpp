// SPDX-License-Identifier: BSL-1.0
// net-client: a line-oriented libnet client. Commands come from stdin (a terminal, a pipe
// or a file); what it learns goes to stdout, one flushed line each, for people and scripts.

#include "app_support.hpp"
#include "line_source.hpp"
#include "output.hpp"
#include "settings.hpp"

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
using net_client::settings;

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
        s = net_client::parse(argc, argv);
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
