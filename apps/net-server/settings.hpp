// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_APPS_NET_SERVER_SETTINGS_HPP
#define LIBNET_APPS_NET_SERVER_SETTINGS_HPP

// net-server's settings: every flag (also LIBNET_<NAME> and the --config file), their
// checks, and what --help says.

#include "access_files.hpp"
#include "app_support.hpp"
#include "config_sources.hpp"
#include "log_lines.hpp"
#include "tls_flags.hpp"

#include <libnet/server.hpp>

#include <boost/program_options.hpp>

#include <iostream>
#include <string>

namespace net_server {

namespace po = boost::program_options;

struct settings {
    libnet::server_options server;
    unsigned threads = 1;
    std::string store_spec;
    bool full_sync = true;
    std::string log_format;
    app::access_files access;
    std::optional<app::host_port> metrics;
};

struct store_settings {
    std::string term_ids;
    std::string store = "memory";
    std::string sync = "full";
    std::size_t ttl_secs = 0;
    unsigned auth_delay_ms = 1000;
    unsigned guess_refill_ms = 2000;
    unsigned frame_timeout_secs = 30;
    bool no_client_term = false;
    std::string log_format = "text";
    std::string udp;
    std::string metrics;
    std::size_t udp_max_datagram = libnet::udp_transport{}.max_datagram;
};

// --udp [HOST:]PORT and its settings.
inline void apply_udp(const store_settings& st, libnet::server_options& o) {
    if (st.udp_max_datagram < 256 || st.udp_max_datagram > 65507)
        throw app::usage_error("--udp-max-datagram must be between 256 and 65507");
    o.udp.transport.max_datagram = st.udp_max_datagram;
    if (st.udp.empty())
        return;
    o.udp.enabled = true;
    if (st.udp.find(':') == std::string::npos) {
        auto const hp = app::parse_host_port("x:" + st.udp, true);
        o.udp.port = static_cast<std::uint16_t>(std::stoul(hp.port));
        return;
    }
    auto const hp = app::parse_host_port(st.udp, true);
    o.udp.host = hp.host;
    o.udp.port = static_cast<std::uint16_t>(std::stoul(hp.port));
}

inline po::options_description describe(settings& s, std::string& log_level, unsigned& idle_secs,
                                        std::size_t& hb_ms, store_settings& st) {
    po::options_description d(
        "Settings (each also LIBNET_<NAME> in the environment, or NAME = VALUE "
        "in the --config file)");
    auto& o = s.server;
    // clang-format off
    d.add_options()
        ("host", po::value(&o.host)->default_value(o.host), "address or host name to bind")
        ("port", po::value(&o.port)->default_value(o.port),
         "port to bind; 0 picks a free one (printed as the first line of stdout)")
        ("udp", po::value(&st.udp),
         "also serve clients over UDP at [HOST:]PORT (HOST defaults to --host; port 0 picks "
         "a free one, printed on stdout as 'udp HOST:PORT' after the TCP address)")
        ("udp-max-datagram", po::value(&st.udp_max_datagram)->default_value(st.udp_max_datagram),
         "largest UDP datagram sent, headers included (256-65507)")
        ("metrics", po::value(&st.metrics),
         "serve metrics over HTTP at HOST:PORT: Prometheus text at /metrics, JSON at /varz "
         "(port 0 picks a free one, printed on stdout as 'metrics HOST:PORT'; default: off)")
        ("threads", po::value(&s.threads)->default_value(s.threads),
         "threads running the server (1-256)")
        ("expect", po::value(&o.expect)->default_value(0),
         "stop once N clients have registered and all of them have left (0: off)")
        ("teardown-at", po::value(&o.teardown_at)->default_value(0),
         "send TERM to everyone and stop when the N-th client registers (0: off)")
        ("barrier", po::value(&o.barrier)->default_value(0),
         "hold everyone until N clients are online: WELCOME but no directory, ERROR not_ready "
         "to SEND and BROADCAST; then everyone gets the directory at once (0: off)")
        ("exit-on-disconnect", po::bool_switch(&o.exit_on_disconnect),
         "stop when any registered client leaves")
        ("idle-timeout", po::value(&idle_secs)->default_value(0),
         "stop after SECS with no client registered (0: off)")
        ("no-client-term", po::bool_switch(&st.no_client_term),
         "refuse TERM from clients (ERROR not_permitted)")
        ("term-ids", po::value(&st.term_ids),
         "only these ids may TERM the server (comma-separated); others get ERROR "
         "not_permitted (default: any client may)")
        ("max-frame", po::value(&o.max_frame)->default_value(o.max_frame),
         "largest frame value accepted, in bytes (1024 to 67108864)")
        ("max-queue", po::value(&o.max_queue_bytes)->default_value(o.max_queue_bytes),
         "bytes queued for one client before it is cut off as a slow consumer")
        ("max-clients", po::value(&o.max_clients)->default_value(o.max_clients),
         "registered clients at most")
        ("backlog", po::value(&o.backlog)->default_value(o.backlog),
         "connections the kernel holds waiting to be accepted (capped by "
         "net.core.somaxconn)")
        ("frame-timeout", po::value(&st.frame_timeout_secs)->default_value(st.frame_timeout_secs),
         "seconds a frame has to arrive whole once it has started; else ERROR "
         "frame_timeout and the connection is closed (0: no limit)")
        ("heartbeat-ms", po::value(&hb_ms)->default_value(5000),
         "PING a client after this much silence; 0: off")
        ("heartbeat-misses", po::value(&o.heartbeat_misses)->default_value(o.heartbeat_misses),
         "unanswered PINGs before a client is dropped as lost")
        ("log-format", po::value(&st.log_format)->default_value(st.log_format),
         "'text': TIME LEVEL net-server: MESSAGE; 'json': one JSON object per line with "
         "time (RFC 3339, UTC), level, program and msg")
        ("log-level", po::value(&log_level)->default_value("info"),
         "debug, info, warn, error or off (log lines go to stderr)")
        ("allow-ids", po::value(&s.access.allow_ids),
         "only these ids may register (comma-separated); others get ERROR not_allowed")
        ("allow-file", po::value(&s.access.allow_file),
         "only the ids in FILE may register: one id per line, '#' starts a comment line")
        ("secrets-file", po::value(&s.access.secrets_file),
         "per-id secrets, one 'id:secret' per line (split at the first ':'); a client with "
         "one of these ids must send its secret (net-client --secret), else ERROR "
         "auth_failed after --auth-delay-ms")
        ("auth-delay-ms", po::value(&st.auth_delay_ms)->default_value(st.auth_delay_ms),
         "delay before answering a wrong or missing secret")
        ("guess-burst", po::value(&o.guesses.address_burst)->default_value(o.guesses.address_burst),
         "failed secret checks one address may make at once; beyond them ERROR rate_limited")
        ("guess-id-burst", po::value(&o.guesses.id_burst)->default_value(o.guesses.id_burst),
         "failed checks of one id's secret from addresses that failed before")
        ("guess-refill-ms", po::value(&st.guess_refill_ms)->default_value(st.guess_refill_ms),
         "time for one more failed check to be allowed (0: never)")
        ("max-unregistered", po::value(&o.guesses.unregistered_per_address)
                                 ->default_value(o.guesses.unregistered_per_address),
         "connections from one address waiting to register (0: no limit); more get "
         "ERROR rate_limited")
        ("store", po::value(&st.store)->default_value(st.store),
         "where mailboxes live: 'memory', or 'sqlite:PATH' (durable; every id that "
         "registers gets a mailbox)")
        ("sync", po::value(&st.sync)->default_value(st.sync),
         "SQLite durability: 'full' (a confirmed message survives power loss) or 'normal' "
         "(it survives a crash of net-server, not of the machine)")
        ("mailbox-max", po::value(&o.mailbox_max_messages)->default_value(o.mailbox_max_messages),
         "messages one mailbox may hold; beyond it senders get ERROR queue_full")
        ("mailbox-max-bytes", po::value(&o.mailbox_max_bytes)->default_value(o.mailbox_max_bytes),
         "bytes of bodies one mailbox may hold; beyond it senders get ERROR queue_full")
        ("ttl", po::value(&st.ttl_secs)->default_value(0),
         "drop stored messages not delivered within SECS (0: keep them)")
        ("cluster", po::value(&o.cluster.servers),
         "join the cluster of servers on these NATS servers: nats://[USER:PASS@]HOST:PORT[,...]")
        ("cluster-name", po::value(&o.cluster.name)->default_value(o.cluster.name),
         "the cluster to join (servers with the same name form one service)")
        ("node-id", po::value(&o.cluster.node_id),
         "this server's name in the cluster (default: host name and port)");
    // clang-format on
    return d;
}

inline settings parse(int argc, char** argv) {
    settings s;
    std::string log_level;
    unsigned idle_secs = 0;
    std::size_t hb_ms = 0;
    store_settings st;
    auto desc = describe(s, log_level, idle_secs, hb_ms, st);
    app::tls_flags tls;
    desc.add(app::server_tls_options(tls));
    po::options_description generic("net-server: a libnet rendezvous and messaging server\n\n"
                                    "Usage: net-server [options]\n\nOptions");
    // clang-format off
    generic.add_options()
        ("help,h", "show this help and exit")
        ("version", "show the version and exit")
        ("config", po::value<std::string>(),
         "read settings from FILE (NAME = VALUE lines, '#' comments; also LIBNET_CONFIG)")
        ("check-config", "check the settings and files they name, print them, and exit");
    // clang-format on
    po::variables_map vm;
    auto const sources = app::store_sources(argc, argv, desc, generic, vm);
    if (vm.count("version")) {
        app::print_version("net-server");
        std::exit(0);
    }
    if (vm.count("help")) {
        std::cout << generic << '\n'
                  << desc
                  << "\nPrecedence: command line, then LIBNET_* variables, then the --config "
                     "file.\n"
                     "\nSignals: SIGINT/SIGTERM stop gracefully (clients get TERM); "
                     "SIGUSR1 prints the stats to stderr; SIGHUP reads --allow-file and "
                     "--secrets-file again (clients no longer allowed are closed, the others "
                     "stay; a file with a mistake keeps the rules in force).\n"
                     "\nMailboxes: ids on the allow list (and, with a sqlite store, every id that "
                     "has registered) get a mailbox. A message to such an id while it is offline "
                     "is stored, the sender gets STORED, and the id receives it, in order, when it "
                     "logs in (in a cluster: on any node; the mailboxes live in NATS). Secrets "
                     "are never logged.\n"
                     "\nExit status: 0 stopped as asked, 1 could not start or failed while "
                     "running, 2 bad settings.\n";
        std::exit(0);
    }
    if (s.threads < 1 || s.threads > 256)
        throw app::usage_error("--threads must be between 1 and 256");
    if (s.server.max_frame < libnet::min_max_frame_size || s.server.max_frame > (64u << 20))
        throw app::usage_error("--max-frame must be between 1024 and 67108864");
    if (s.server.max_queue_bytes < s.server.max_frame)
        throw app::usage_error("--max-queue must be at least --max-frame");
    if (s.server.heartbeat_misses < 1)
        throw app::usage_error("--heartbeat-misses must be at least 1");
    s.server.allow_client_term = !st.no_client_term;
    app::apply_server_tls(tls, s.server.tls);
    s.server.idle_timeout = std::chrono::seconds(idle_secs);
    s.server.heartbeat_interval = std::chrono::milliseconds(hb_ms);
    s.server.log = app::stderr_log(log_level, st.log_format, "net-server");
    s.log_format = st.log_format;
    if (st.sync != "full" && st.sync != "normal")
        throw app::usage_error("--sync must be full or normal");
    if (s.server.mailbox_max_messages < 1)
        throw app::usage_error("--mailbox-max must be at least 1");
    s.server.message_ttl = std::chrono::seconds(st.ttl_secs);
    s.server.frame_timeout = std::chrono::seconds(st.frame_timeout_secs);
    if (s.server.backlog < 1)
        throw app::usage_error("--backlog must be at least 1");
    s.server.auth_failure_delay = std::chrono::milliseconds(st.auth_delay_ms);
    s.server.guesses.refill = std::chrono::milliseconds(st.guess_refill_ms);
    if (s.server.guesses.address_burst < 1 || s.server.guesses.id_burst < 1)
        throw app::usage_error("--guess-burst and --guess-id-burst must be at least 1");
    if (vm.count("term-ids")) {
        try {
            s.server.term_ids = libnet::parse_id_list(st.term_ids);
        } catch (const std::invalid_argument& e) {
            throw app::usage_error(std::string("--term-ids: ") + e.what());
        }
        if (s.server.term_ids.empty())
            throw app::usage_error("--term-ids: the list is empty");
    }
    auto lists = s.access.read();
    s.server.allow_ids = std::move(lists.allow);
    s.server.secrets = std::move(lists.secrets);
    if (vm.count("cluster") && !libnet::server::cluster_supported())
        throw app::usage_error("--cluster: this net-server was built without NATS "
                               "(LIBNET_WITH_NATS=OFF)");
    if (vm.count("cluster") && s.server.barrier != 0)
        throw app::usage_error("--barrier is for one server, not a cluster");
    if (vm.count("cluster") && s.server.cluster.servers.empty())
        throw app::usage_error("--cluster needs at least one NATS server");
    if ((vm.count("allow-ids") || vm.count("allow-file")) && s.server.allow_ids.empty())
        throw app::usage_error("the allow list is empty");
    if (vm.count("cluster") && !vm["store"].defaulted())
        throw app::usage_error("--store: a cluster keeps its mailboxes in NATS");
    if (st.store != "memory" && !st.store.starts_with("sqlite:"))
        throw app::usage_error("--store must be memory or sqlite:PATH");
    if (st.store == "sqlite:")
        throw app::usage_error("--store sqlite: needs a PATH");
    s.store_spec = st.store;
    s.full_sync = st.sync == "full";
    apply_udp(st, s.server);
    if (!st.metrics.empty()) {
        try {
            s.metrics = app::parse_host_port(st.metrics, true);
        } catch (const app::usage_error& e) {
            throw app::usage_error(std::string("--metrics: ") + e.what());
        }
    }
    if (s.server.udp.enabled && s.server.tls.context)
        throw app::usage_error("--udp: UDP has no encryption (no DTLS yet); a server with "
                               "--tls-cert takes no UDP clients");
    if (vm.count("check-config"))
        app::print_settings_and_exit(vm, sources);
    return s;
}

} // namespace net_server

#endif
