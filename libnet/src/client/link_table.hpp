// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_SRC_CLIENT_LINK_TABLE_HPP
#define LIBNET_SRC_CLIENT_LINK_TABLE_HPP

#include "peer_link.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace libnet::detail {

/// The client's direct links and what it needs to know to run them: who is online as of the
/// frames received (dialing and the mesh rule need that before the application has seen the
/// events), the links by peer and those accepted but not yet identified, the link tokens
/// already used, and per peer the links it sent messages on, so that what it re-sends through
/// the server after a drop is recognised (docs/protocol.md §15.4). Strand only.
class link_table {
public:
    struct live_entry {
        std::uint64_t join_seq;
        std::string endpoint;
    };

    // --- who is online -------------------------------------------------------------------
    void joined(std::string id, std::uint64_t join_seq, std::string endpoint);
    /// `id` left: its records go, and its link (if any) closes.
    void left(const std::string& id);
    const live_entry* live(const std::string& id) const;
    /// Every client in the directory, as its frames arrived.
    const std::unordered_map<std::string, live_entry>& live_entries() const { return live_; }

    // --- links ---------------------------------------------------------------------------
    /// The link to `peer` in any state, or null.
    peer_link* find(const std::string& peer) const;
    bool contains(const std::string& peer) const { return links_.contains(peer); }
    /// No link at all, identified or not.
    bool empty() const noexcept { return links_.empty() && accepting_.empty(); }
    /// No identified link: a send need not look for one.
    bool none_identified() const noexcept { return links_.empty(); }

    /// A dialed link, known by its peer from the start.
    void add_dialed(std::shared_ptr<peer_link> link);
    /// An accepted link, until PEER_HELLO says who it is.
    void add_accepted(std::shared_ptr<peer_link> link);
    /// `link` proved to be its peer's (PEER_HELLO accepted): from now on it is found by peer.
    void identified(const std::shared_ptr<peer_link>& link);
    /// A link's run ended. Returns whether it was its peer's current link. The highest
    /// sequence number it delivered is remembered while the peer is online.
    bool finished(const std::shared_ptr<peer_link>& link);

    /// Whether message `link_seq` of `link` from `from` was delivered already; if not, it
    /// counts as delivered from now on. Both ways count: a re-sent copy that arrives first
    /// makes the link's own copy, still unread in a link that has not noticed the drop yet,
    /// a duplicate too.
    bool seen_before(const std::string& from, std::uint64_t link, std::uint64_t link_seq);

    /// False when the token with `nonce` was used before; remembers it until `expires`
    /// (unix ms). Tokens expired at `now` are forgotten.
    bool fresh_token(std::string_view nonce, std::uint64_t expires, std::uint64_t now);

    /// Calls `f(peer_link&)` for every link, identified or not.
    template <class F>
    void for_each(F&& f) const {
        for (auto const& [peer, l] : links_)
            f(*l);
        for (auto const& l : accepting_)
            f(*l);
    }

private:
    struct link_record {
        std::uint64_t link;
        std::uint64_t delivered;
    };
    static constexpr std::size_t records_per_peer = 4;

    std::unordered_map<std::string, live_entry> live_;
    std::unordered_map<std::string, std::shared_ptr<peer_link>> links_; // by peer id
    std::vector<std::shared_ptr<peer_link>> accepting_;                 // before PEER_HELLO
    std::map<std::string, std::uint64_t, std::less<>> used_tokens_;     // nonce -> expiry
    std::unordered_map<std::string, std::vector<link_record>> seen_;    // by peer id
};

} // namespace libnet::detail

#endif
