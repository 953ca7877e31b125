// SPDX-License-Identifier: BSL-1.0
// Registration: HELLO, LOOKUP, client TERM, leaving, and the termination policies that
// follow from them. All of it under server_core::mutex_.

#include "../wire/peer_token.hpp"
#include "core.hpp"

#include <libnet/client_id.hpp>

#include <boost/asio/post.hpp>

#include <algorithm>
#include <optional>
#include <utility>

namespace libnet::detail {

namespace {

// A refused HELLO: "refused ID[ from IP]: WHY". Never the credentials.
void log_refusal(const server_core& core, const server_session& s, const std::string& id,
                 std::string_view why, error code, std::string_view from_ip = {}) {
    if (!core.logging())
        return;
    auto const address = endpoint_string(s.remote_endpoint());
    auto const text = "refused " + id + (from_ip.empty() ? "" : " from " + std::string(from_ip)) +
                      ": " + std::string(why);
    core.log(log_level::info, "client.refused", text,
             {{"id", id}, {"address", address}, {"reason", why}, {"code", to_string(code)}});
}

} // namespace

std::string server_core::assign_id(const server_session& s) const {
    auto base = endpoint_string(s.remote_endpoint());
    if (!directory_.contains(base))
        return base;
    for (int i = 2;; ++i) { // two connections can only share ip:port across address families
        auto id = base + "#" + std::to_string(i);
        if (!directory_.contains(id))
            return id;
    }
}

error_code server_core::register_client(server_session& s, const msg::hello& h) {
    if (!h.id.empty() && !is_valid_client_id(h.id))
        return error::invalid_client_id;
    if (h.endpoint.size() > max_endpoint_size)
        return error::malformed_message;
    if (!h.link_key.empty() && h.link_key.size() != link_key_size)
        return error::malformed_message;
    s.link_key_ = h.endpoint.empty() ? std::string_view() : h.link_key; // read once registered
    std::string id(h.id);
    if (id.empty()) {
        std::lock_guard lock(mutex_);
        id = assign_id(s);
    }
    if (options_.tls.map_identity &&
        std::find(s.cert_names_.begin(), s.cert_names_.end(), id) == s.cert_names_.end()) {
        refused_.fetch_add(1, std::memory_order_relaxed);
        log_refusal(*this, s, id, "not a name of its TLS certificate", error::not_permitted);
        s.refusal_ = "the id must be a name of the client's TLS certificate";
        return error::not_permitted;
    }
    // Only ids with a secret can be guessed at: the others pay nothing here.
    auto rules = access_.load();
    bool const secret = rules->digests.contains(id);
    auto const address = secret ? s.remote_endpoint().address().to_string() : std::string();
    auto const now = std::chrono::steady_clock::now();
    if (secret && !guard_.may_try(address, id, now)) {
        refused_.fetch_add(1, std::memory_order_relaxed);
        log_refusal(*this, s, id, "too many failed attempts", error::rate_limited, address);
        return error::rate_limited;
    }
    if (auto ec = check_access(*rules, id, h)) {
        refused_.fetch_add(1, std::memory_order_relaxed);
        if (ec == error::auth_failed && secret)
            guard_.failed(address, id, now);
        log_refusal(*this, s, id,
                    ec == error::not_allowed ? "not on the allow list" : "wrong secret",
                    static_cast<error>(ec.value()));
        return ec;
    }
    if (options_.on_register) { // outside the lock: the hook may take its time
        if (auto why = options_.on_register({id, h.endpoint, h.credentials, s.remote_endpoint()})) {
            log_refusal(*this, s, id, *why, error::not_permitted);
            s.refusal_ = std::move(*why);
            return error::not_permitted;
        }
    }
    std::unique_lock lock(mutex_);
    if (stopping_)
        return error::shutting_down;
    // The rules changed while this client was checked: update_access() did not see it.
    if (auto now = access_.load(); now != rules)
        if (auto ec = check_access(*now, id, h)) {
            refused_.fetch_add(1, std::memory_order_relaxed);
            return ec;
        }
    // In a cluster the bucket decides for ids listed on other nodes: they may have left
    // there already, and this node not heard yet.
    if (directory_.find(id) || claims_.count(id) != 0 || (!cluster_ && directory_.find_remote(id)))
        return error::id_taken;
    // The snapshot is one frame: refuse a client it could no longer be sent to.
    if (directory_.members().size() + claims_.size() >= options_.max_clients ||
        !directory_.fits(id, h.endpoint))
        return error::server_full;
    if (cluster_) {
        // The cluster settles who gets the id; the session waits for its answer.
        if (!cluster_->available())
            return error::cluster_unavailable;
        claims_.emplace(id, claim{s.self(), std::string(h.endpoint), h.flags, h.seq});
        s.claiming_ = true;
        lock.unlock();
        cluster_->claim(id, std::string(h.endpoint));
        return {};
    }
    admit(s, std::move(id), h.endpoint, h.flags, &h, 0);
    lock.unlock();
    registered(s);
    return {};
}

void server_core::settle(server_session& s) {
    if (s.unsettled_.exchange(false))
        guard_.settled(s.remote_endpoint().address().to_string());
}

void server_core::admit(server_session& s, std::string id, std::string_view endpoint,
                        std::uint16_t flags, const msg::hello* h, std::uint64_t join_seq) {
    s.id_ = std::move(id);
    s.endpoint_ = endpoint;
    s.presence_ = (flags & msg::hello_no_directory) == 0;
    if (!s.endpoint_.empty())
        s.peer_key_ = random_bytes(peer_key_size);
    s.registered_ = true;
    settle(s);
    if (join_seq != 0 ? directory_.add(s.self(), join_seq) : directory_.add(s.self()))
        announce_soon();
    if (!barrier_open_.load(std::memory_order_relaxed) && directory_.size() >= options_.barrier) {
        barrier_open_.store(true, std::memory_order_release);
        barrier_opened_ = true;
        announce_soon();
    }
    ++registrations_;
    if (h)
        open_mailbox(s, *h);

    // WELCOME goes out now; the snapshot, the deltas to the others and what waits in the
    // mailbox follow with the next announcement, which batches every join until then.
    msg::welcome w{protocol_version,
                   s.id_,
                   options_.max_frame,
                   static_cast<std::uint32_t>(options_.heartbeat_interval.count()),
                   std::max<std::uint32_t>(options_.heartbeat_misses, 1),
                   s.peer_key_};
    if (auto* mb = s.mailbox_) {
        w.flags = msg::welcome_mailbox | (durable_ || shared_mail_ ? msg::welcome_durable : 0);
        w.seq = mb->acked;
        w.pending = static_cast<std::uint32_t>(mb->mails.size());
    }
    if (!barrier_open_.load(std::memory_order_relaxed))
        w.flags |= msg::welcome_barrier;
    s.enqueue(make_frame(w));
    registration_latency_.record(std::chrono::steady_clock::now() - s.hello_at_);
    commit();
}

// After admit(), outside the lock: the log line and the teardown policy.
void server_core::registered(server_session& s) {
    std::size_t count;
    bool teardown, opened;
    {
        std::lock_guard lock(mutex_);
        count = directory_.size();
        teardown = options_.teardown_at != 0 && registrations_ == options_.teardown_at;
        opened = std::exchange(barrier_opened_, false);
    }
    if (logging()) {
        auto const address = endpoint_string(s.remote_endpoint());
        auto const online = std::to_string(count);
        log(log_level::info, "client.joined",
            "joined " + s.id_ + " from " + address + " (" + online + " online)",
            {{"id", s.id_}, {"address", address}, {"online", online}});
    }
    if (opened && logging()) {
        auto const online = std::to_string(options_.barrier);
        log(log_level::info, "server.barrier_open",
            "barrier open: " + online + " clients online, everyone gets the directory",
            {{"online", online}});
    }
    if (teardown) {
        if (logging()) {
            auto const n = std::to_string(options_.teardown_at);
            log(log_level::info, "server.teardown", "teardown: " + n + " registered",
                {{"registrations", n}});
        }
        stop(msg::term_reason::teardown);
    }
}

void server_core::lookup(server_session& from, const msg::lookup& m) {
    std::unique_lock lock(mutex_);
    msg::presence p{m.id, 0, {}, m.ref};
    std::string endpoint;
    if (auto* s = directory_.find(m.id)) {
        p.join_seq = s->join_seq_;
        endpoint = s->endpoint_;
    } else if (auto* r = directory_.find_remote(m.id)) {
        p.join_seq = r->join_seq;
        endpoint = r->endpoint;
    }
    lock.unlock();
    p.endpoint = endpoint;
    from.enqueue(make_frame(p));
}

void server_core::client_term(server_session& from, const msg::term& m) {
    if (!options_.allow_client_term ||
        (!options_.term_ids.empty() && !options_.term_ids.contains(from.id_))) {
        from.send_error(error::not_permitted, static_cast<std::uint16_t>(frame_type::term));
        return;
    }
    if (logging()) {
        if (m.text.empty())
            log(log_level::info, "client.term", "TERM from " + from.id_, {{"id", from.id_}});
        else
            log(log_level::info, "client.term",
                "TERM from " + from.id_ + ": " + std::string(m.text),
                {{"id", from.id_}, {"text", m.text}});
    }
    stop(msg::term_reason::requested, from.id_, m.text);
}

void server_core::unregister(server_session& s, msg::leave_reason reason) {
    std::unique_lock lock(mutex_);
    if (!s.registered_) {
        // Closed while the cluster settles its id: a later HELLO may claim it afresh (and
        // if this claim wins after all, the id goes back).
        for (auto it = claims_.begin(); it != claims_.end(); ++it)
            if (it->second.session.get() == &s) {
                if (it->second.revision != 0) { // won; its mailbox was loading
                    cluster_->release(it->first, it->second.revision, reason);
                    close_shared(mailboxes_.at(it->first));
                }
                claims_.erase(it);
                break;
            }
        return;
    }
    s.registered_ = false;
    if (s.mailbox_ && s.mailbox_->session.get() == &s) {
        s.mailbox_->session.reset();
        if (shared_mail_)
            close_shared(*s.mailbox_); // the stream keeps it for the next login
    }
    if (directory_.remove(s, reason, stopping_))
        announce_soon();
    if (cluster_)
        cluster_->release(s.id_, s.join_seq_, reason);
    leaves_.fetch_add(1, std::memory_order_release); // senders look it up again
    if (directory_.members().empty())
        idle_since_ = std::chrono::steady_clock::now();
    bool const stopping = stopping_;
    auto const count = directory_.size();
    std::optional<msg::term_reason> policy;
    if (!stopping && options_.exit_on_disconnect)
        policy = msg::term_reason::disconnect;
    else if (!stopping && options_.expect != 0 && registrations_ >= options_.expect &&
             directory_.members().empty())
        policy = msg::term_reason::expected;
    lock.unlock();

    if (logging()) {
        auto const why = msg::to_string(reason);
        auto const online = std::to_string(count);
        log(log_level::info, "client.left",
            "left " + s.id_ + " (" + std::string(why) + ", " + online + " online)",
            {{"id", s.id_}, {"reason", why}, {"online", online}});
    }
    if (options_.on_leave)
        options_.on_leave(s.id_, reason);
    if (policy) {
        if (logging()) {
            auto const why = msg::to_string(*policy);
            log(log_level::info, "server.policy", "policy " + std::string(why) + " fired",
                {{"reason", why}});
        }
        stop(*policy);
    }
}

// Guide §7: an error about a client's last send reaches it, also when it leaves right
// after sending; its BYE waits for the store's answer.
// (The session's strand.)
void server_core::leave(server_session& s) {
    {
        std::lock_guard lock(mutex_);
        if (awaits_answers(s)) {
            // Its reader pauses, or the client's half-close would end the session first.
            s.answering_ = true;
            leaving_.push_back(s.self());
            return;
        }
    }
    s.close({});
}

bool server_core::awaits_answers(const server_session& s) const {
    for (auto const& c : confirmations_)
        if (c.to.lock().get() == &s)
            return true;
    for (auto const& [token, w] : stores_)
        if (w.group->from.lock().get() == &s)
            return true;
    return false;
}

void server_core::close_answered() {
    std::erase_if(leaving_, [this](const std::weak_ptr<server_session>& w) {
        auto s = w.lock();
        if (s && awaits_answers(*s))
            return false;
        if (s)
            boost::asio::post(s->get_executor(), [s] {
                s->close({}); // after the answers queued before it
                s->answering_ = false;
                s->resume_reading();
            });
        return true;
    });
}

} // namespace libnet::detail
