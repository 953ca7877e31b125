// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_APPS_NET_CLIENT_SETTINGS_HPP
#define LIBNET_APPS_NET_CLIENT_SETTINGS_HPP

// net-client's command line: the options, the commands it reads, and what --help says.

#include "app_support.hpp"
#include "tls_flags.hpp"

#include <libnet/client.hpp>
#include <libnet/client_id.hpp>

#include <boost/program_options.hpp>

#include <fstream>
#include <iostream>
#include <string>

namespace net_client {

namespace po = boost::program_options;

inline constexpr char const* commands = R"txt(Commands (one per line on stdin):
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

inline settings parse(int argc, char** argv) {
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
        "reconnect-attempts",
        po::value(&s.client.reconnect.max_attempts)->default_value(s.client.reconnect.max_attempts),
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

} // namespace net_client

#endif
