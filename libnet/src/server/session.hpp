// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_SRC_SERVER_SESSION_HPP
#define LIBNET_SRC_SERVER_SESSION_HPP

#include "../wire/connection.hpp"

#include <libnet/messages.hpp>
#include <libnet/server_options.hpp>

#include <atomic>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace libnet::detail {

class server_core;
struct mailbox;

/// "ip:port", "[v6]:port": how endpoints appear in logs and assigned ids.
template <class Endpoint>
std::string endpoint_string(const Endpoint& ep) {
    std::ostringstream os;
    os << ep;
    return os.str();
}

/// The largest frame value a connection may send before it has registered.
inline constexpr std::uint32_t max_hello_frame = 64 * 1024;

/// One client connection on the server.
class server_session final : public connection {
public:
    /// `core` outlives the session: the coroutine running the session holds it.
    server_session(transport stream, server_core* core);

    /// The registered id; set once at registration, read-only afterwards.
    const std::string& id() const noexcept { return id_; }

private:
    friend class server_core;
    friend class directory;

    static connection_limits limits(const server_options& o);
    void on_frame(frame_view f) override;
    void on_closing(error_code reason) override;
    void before_reply() override;
    void on_written(std::uint64_t written) override;
    bool want_read() override { return !claiming_ && !answering_; }
    void on_hello(frame_view f);
    /// The cluster settled this session's id: the session is registered, or refused.
    void on_claim(error_code ec);
    void start_session();
    void send_error(error code, std::uint16_t ref_type, std::uint64_t ref = 0,
                    std::string_view about = {});
    std::shared_ptr<server_session> self();

    server_core* core_;
    // Strand: the last recipient routed to, valid while server_core::leaves_ == epoch.
    struct route_cache {
        std::string id;
        std::shared_ptr<server_session> to;
        std::uint64_t epoch = 0;
    } route_cache_;
    // Strand: the node of the last recipient forwarded to, valid as route_cache_.
    struct remote_cache {
        std::string id;
        std::string node;
        std::uint64_t epoch = 0;
    } remote_cache_;
    bool hello_done_ = false; // strand
    bool said_bye_ = false;   // strand
    bool refused_ = false;    // strand: a failed secret; waiting out the delay, frames ignored
    bool claiming_ = false;   // strand: the cluster settles the id; frames wait unread
    bool answering_ = false;  // strand: said BYE; the answers to its sends are due
    std::atomic<bool> unsettled_{false};  // counted as waiting to register (guess_guard)
    std::string refusal_;                 // strand: on_register's reason, sent as the ERROR's text
    clock::time_point hello_at_;          // strand: when HELLO was read; admit() measures from it
    std::vector<std::string> cert_names_; // the names of its TLS client certificate

    // Written under server_core::mutex_ at registration.
    std::string id_;
    std::string endpoint_;
    std::string peer_key_; // verifies its peer-link tokens; empty without an endpoint
    std::string link_key_; // its links' certificate digest (HELLO.link_key); empty: plain links
    std::uint64_t join_seq_ = 0;
    bool registered_ = false;
    bool presence_ = true; // gets the directory (HELLO without hello_no_directory)
    // Set under mutex_ once its snapshot is queued; read without the lock by its strand,
    // which announces first when it is not (so nothing it causes overtakes the snapshot).
    std::atomic<bool> announced_{false};
    mailbox* mailbox_ = nullptr; // this client's mailbox, if it has one (stable: never erased)
    // Set under mutex_ when the mailbox stopped for want of queue room: the next write
    // resumes it.
    std::atomic<bool> mail_waits_room_{false};
};

} // namespace libnet::detail

#endif
