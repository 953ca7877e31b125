// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_TEST_NATS_CLUSTER_HPP
#define LIBNET_TEST_NATS_CLUSTER_HPP

// A cluster of nats-server processes on loopback for tests: JetStream on, the $SYS
// disconnect advisories imported into the application account (as docs/guide.md §11 shows),
// configuration in a temporary directory, free ports. Ready once JetStream answers, that
// is once the meta leader is elected.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <nats/nats.h>
#include <stdexcept>
#include <string>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace test {

class nats_cluster {
public:
    explicit nats_cluster(int size = 3) {
        char tmpl[] = "/tmp/libnet-nats-XXXXXX";
        if (!mkdtemp(tmpl))
            throw std::runtime_error("mkdtemp failed");
        dir_ = tmpl;
        for (int i = 0; i < size; ++i)
            nodes_.push_back({free_port(), free_port(), -1});
        for (int i = 0; i < size; ++i) {
            write_config(i);
            start(i);
        }
        for (int i = 0; i < size; ++i)
            wait_ready(i);
    }
    ~nats_cluster() {
        for (std::size_t i = 0; i < nodes_.size(); ++i)
            stop(static_cast<int>(i));
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }
    nats_cluster(const nats_cluster&) = delete;
    nats_cluster& operator=(const nats_cluster&) = delete;

    std::string url(int i) const {
        return "nats://127.0.0.1:" + std::to_string(nodes_.at(static_cast<std::size_t>(i)).client);
    }
    /// A libnet cluster name for this fixture alone.
    std::string name() const { return "t" + std::to_string(getpid()); }
    /// Every server, comma-separated: what a net-server is given.
    std::string urls() const {
        std::string s;
        for (std::size_t i = 0; i < nodes_.size(); ++i)
            s += (i ? "," : "") + url(static_cast<int>(i));
        return s;
    }
    /// Kills server `i` with `sig` and reaps it.
    void kill(int i, int sig = SIGKILL) {
        auto& n = nodes_.at(static_cast<std::size_t>(i));
        if (n.pid <= 0)
            return;
        ::kill(n.pid, sig);
        waitpid(n.pid, nullptr, 0);
        n.pid = -1;
    }
    void stop(int i) { kill(i, SIGTERM); }
    void restart(int i) {
        start(i);
        wait_ready(i);
    }

private:
    struct node {
        int client, route;
        pid_t pid;
    };

    static int free_port() {
        boost::asio::io_context ioc;
        boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
        return a.local_endpoint().port();
    }

    void write_config(int i) {
        auto const& n = nodes_[static_cast<std::size_t>(i)];
        std::ofstream f(dir_ / ("n" + std::to_string(i) + ".conf"));
        f << "server_name: n" << i << "\nlisten: 127.0.0.1:" << n.client << "\n"
          << "jetstream { store_dir: \"" << (dir_ / ("js" + std::to_string(i))).string()
          << "\" }\n";
        if (nodes_.size() > 1) {
            f << "cluster { name: test, listen: 127.0.0.1:" << n.route << ", routes: [";
            for (std::size_t j = 0; j < nodes_.size(); ++j)
                f << (j ? ", " : "") << "nats://127.0.0.1:" << nodes_[j].route;
            f << "] }\n";
        }
        f << "accounts {\n"
             "  SYS: { users: [{user: sys, password: sys}],\n"
             "         exports: [{stream: \"$SYS.ACCOUNT.APP.DISCONNECT\"}] }\n"
             "  APP: { jetstream: enabled, users: [{user: app, password: app}],\n"
             "         imports: [{stream: {account: SYS, subject: "
             "\"$SYS.ACCOUNT.APP.DISCONNECT\"}}] }\n"
             "}\nsystem_account: SYS\nno_auth_user: app\n";
    }

    // fork and exec rather than posix_spawn: the child asks to be killed with its parent,
    // so a test that crashes leaves no nats-server behind.
    void start(int i) {
        auto& n = nodes_[static_cast<std::size_t>(i)];
        auto const conf = (dir_ / ("n" + std::to_string(i) + ".conf")).string();
        auto const log = (dir_ / ("n" + std::to_string(i) + ".log")).string();
        std::string prog = "nats-server", c = "-c";
        char* argv[] = {prog.data(), c.data(), const_cast<char*>(conf.c_str()), nullptr};
        pid_t const parent = getpid();
        n.pid = fork();
        if (n.pid < 0)
            throw std::runtime_error("fork failed");
        if (n.pid == 0) { // the child: async-signal-safe calls only until exec
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent)
                _exit(1);
            int const fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
            }
            execvp("nats-server", argv);
            _exit(127); // not installed: scripts/bootstrap installs it
        }
    }

    // A server that could not listen (another test took the port first) is started again
    // on new ports.
    void wait_ready(int i) {
        auto const deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (std::chrono::steady_clock::now() < deadline) {
            auto& n = nodes_[static_cast<std::size_t>(i)];
            if (waitpid(n.pid, nullptr, WNOHANG) == n.pid) {
                n = {free_port(), free_port(), -1};
                for (std::size_t j = 0; j < nodes_.size(); ++j)
                    write_config(static_cast<int>(j));
                start(i);
                continue;
            }
            if (jetstream_answers(url(i)))
                return;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        throw std::runtime_error("nats-server " + std::to_string(i) +
                                 " did not become ready; see " + dir_.string());
    }

    static bool jetstream_answers(const std::string& url) {
        natsConnection* nc = nullptr;
        if (natsConnection_ConnectTo(&nc, url.c_str()) != NATS_OK)
            return false;
        jsCtx* js = nullptr;
        jsAccountInfo* info = nullptr;
        jsOptions o;
        jsOptions_Init(&o);
        o.Wait = 500;
        bool ok = natsConnection_JetStream(&js, nc, &o) == NATS_OK &&
                  js_GetAccountInfo(&info, js, &o, nullptr) == NATS_OK;
        if (info)
            jsAccountInfo_Destroy(info);
        jsCtx_Destroy(js);
        natsConnection_Destroy(nc);
        return ok;
    }

    std::filesystem::path dir_;
    std::vector<node> nodes_;
};

} // namespace test

#endif
