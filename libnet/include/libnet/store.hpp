// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_STORE_HPP
#define LIBNET_STORE_HPP

#include <libnet/error.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

/// @file
/// Where a server keeps its mailboxes (docs/guide.md §10). The server holds every
/// mailbox in memory and writes each change to its store, in order; a durable store
/// reads them back at the next start.

namespace libnet {

/// A message waiting in a recipient's mailbox.
struct stored_message {
    std::string recipient;   ///< The id whose mailbox holds it.
    std::uint64_t seq = 0;   ///< The message id: unique within the recipient's mailbox, increasing.
    std::string from;        ///< The sender's registered id.
    std::string body;        ///< The payload.
    std::uint16_t type = 0;  ///< 0 for a text message, else the application type.
    std::uint16_t flags = 0; ///< msg::flag_broadcast or 0.
    std::int64_t stored_at = 0;  ///< When the server accepted it: ms since the Unix epoch.
    std::int64_t expires_at = 0; ///< ms since the Unix epoch; 0: never.
};

/// A mailbox's owner as the store remembers it.
struct stored_user {
    std::string id;              ///< The mailbox's id.
    std::uint64_t last_seq = 0;  ///< The highest message id it was given.
    std::uint64_t acked = 0;     ///< The highest message id it acknowledged (its last-seen).
    std::int64_t last_login = 0; ///< ms since the Unix epoch; 0: never.
};

/// The changes a server hands to message_store::write.
namespace store_change {
/// A message enters a mailbox.
struct put {
    stored_message message; ///< The message, with its recipient and id.
};
/// `recipient` acknowledged everything up to `seq`: those messages go.
struct ack {
    std::string recipient; ///< The mailbox.
    std::uint64_t seq = 0; ///< The highest message id acknowledged.
};
/// One message goes without an acknowledgement (it expired).
struct drop {
    std::string recipient; ///< The mailbox.
    std::uint64_t seq = 0; ///< The message's id.
};
/// `id` registered at `time` (ms since the Unix epoch): it has a mailbox from now on.
struct login {
    std::string id;        ///< The id that registered.
    std::int64_t time = 0; ///< When, in ms since the Unix epoch.
};
} // namespace store_change

/// One change to a store: any of the structs in store_change.
using store_change_t =
    std::variant<store_change::put, store_change::ack, store_change::drop, store_change::login>;

/// Everything a store holds, as load() returns it.
struct store_contents {
    std::vector<stored_user> users;       ///< Every id with a mailbox.
    std::vector<stored_message> messages; ///< By recipient, then seq.
};

/// A server's message store. The server calls it from its network threads, so write()
/// must not block; a store applies writes in the order they were made.
///
/// @par Thread safety
/// The server calls durable() and load() once, in its constructor; then write() one call
/// at a time, but from any of its threads; and flush() once all its sessions have ended.
/// `done` may be called from any thread.
class message_store {
public:
    virtual ~message_store() = default;

    /// True when what write() committed survives a restart of the process.
    virtual bool durable() const noexcept = 0;

    /// Everything stored; called once, before the server accepts clients (may block).
    virtual store_contents load() = 0;

    /// Applies `changes` after every earlier write; then calls `done` (from any thread)
    /// with an empty code once they are committed, or with the error that stopped it.
    virtual void write(std::vector<store_change_t> changes,
                       std::function<void(error_code)> done) = 0;

    /// Blocks until everything written so far is committed or has failed.
    virtual void flush() = 0;
};

/// The default store: nothing is kept beyond the server's memory; writes complete at once.
std::shared_ptr<message_store> make_memory_store();

/// Settings of the SQLite store.
struct sqlite_store_options {
    std::string path; ///< The database file; created when missing.
    /// true: synchronous=FULL, every commit reaches the disk before it is confirmed
    /// (survives power loss). false: synchronous=NORMAL, committed messages survive a crash
    /// of the process but the last ones may be lost with the machine.
    bool full_sync = true;
    /// How long the writer waits for more changes before committing a group; 0: it
    /// commits what has queued up while the previous commit ran.
    std::chrono::microseconds group_window{0};
    /// Changes committed in one transaction at most.
    std::size_t max_group = 4096;
};

/// Opens (or creates) a SQLite store: WAL journal, the schema created or checked, and
/// `PRAGMA integrity_check` run. Throws std::runtime_error with the reason when the file
/// can't be opened or fails the check. Its writes run on a thread of its own.
std::shared_ptr<message_store> make_sqlite_store(sqlite_store_options options);

/// A store from a spec: "memory", or "sqlite:PATH" (full_sync as given). Throws
/// std::invalid_argument for anything else, and what make_sqlite_store throws.
std::shared_ptr<message_store> open_store(std::string_view spec, bool full_sync = true);

} // namespace libnet

#endif
