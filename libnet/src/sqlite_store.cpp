// SPDX-License-Identifier: BSL-1.0
// The SQLite message store: WAL, group commit on a writer thread of its own, and the
// schema of docs/architecture.md §10.

#include <libnet/store.hpp>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <sqlite3.h>
#include <stdexcept>
#include <thread>

namespace libnet {
namespace {

constexpr const char* schema = R"sql(
CREATE TABLE IF NOT EXISTS users (
    id         TEXT PRIMARY KEY,
    last_seq   INTEGER NOT NULL DEFAULT 0,
    acked      INTEGER NOT NULL DEFAULT 0,
    last_login INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
    recipient  TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    sender     TEXT    NOT NULL,
    type       INTEGER NOT NULL,
    flags      INTEGER NOT NULL,
    body       BLOB    NOT NULL,
    stored_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (recipient, seq)
) WITHOUT ROWID;
)sql";

// One prepared statement, reset after each use.
class statement {
public:
    statement(sqlite3* db, const char* sql) {
        if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr) !=
            SQLITE_OK)
            throw std::runtime_error(std::string("libnet: sqlite: ") + sqlite3_errmsg(db));
    }
    ~statement() { sqlite3_finalize(stmt_); }
    statement(const statement&) = delete;
    statement& operator=(const statement&) = delete;

    statement& bind(int i, std::int64_t v) {
        sqlite3_bind_int64(stmt_, i, v);
        return *this;
    }
    statement& bind(int i, std::string_view v) {
        sqlite3_bind_text(stmt_, i, v.data() ? v.data() : "", static_cast<int>(v.size()),
                          SQLITE_STATIC);
        return *this;
    }
    statement& blob(int i, std::string_view v) {
        if (v.empty()) // a null pointer would bind NULL
            sqlite3_bind_zeroblob(stmt_, i, 0);
        else
            sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
        return *this;
    }
    /// Runs a statement that returns no rows; false on error.
    bool run() {
        auto const rc = sqlite3_step(stmt_);
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
        return rc == SQLITE_DONE;
    }
    bool row() { return sqlite3_step(stmt_) == SQLITE_ROW; }
    void reset() { sqlite3_reset(stmt_); }
    std::int64_t i64(int col) { return sqlite3_column_int64(stmt_, col); }
    std::string text(int col) {
        auto const* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
        return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
                 : std::string();
    }

private:
    sqlite3_stmt* stmt_ = nullptr;
};

class sqlite_store final : public message_store {
public:
    explicit sqlite_store(sqlite_store_options o) : options_(std::move(o)) {
        if (sqlite3_open_v2(options_.path.c_str(), &db_,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                            nullptr) != SQLITE_OK) {
            auto const why = std::string(db_ ? sqlite3_errmsg(db_) : "out of memory");
            sqlite3_close(db_);
            throw std::runtime_error("libnet: can't open store " + options_.path + ": " + why);
        }
        try {
            sqlite3_busy_timeout(db_, 2000);
            // One server per database: the first write takes the file for good.
            exec("PRAGMA locking_mode=EXCLUSIVE");
            exec("PRAGMA journal_mode=WAL");
            exec(options_.full_sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
            check_integrity();
            exec("BEGIN IMMEDIATE");
            exec(schema);
            exec("COMMIT");
            put_.emplace(db_, "INSERT INTO messages VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
            put_user_.emplace(db_, "INSERT INTO users (id, last_seq) VALUES (?1, ?2) "
                                   "ON CONFLICT (id) DO UPDATE SET "
                                   "last_seq = max(last_seq, excluded.last_seq)");
            ack_.emplace(db_, "DELETE FROM messages WHERE recipient = ?1 AND seq <= ?2");
            ack_user_.emplace(db_, "INSERT INTO users (id, last_seq, acked) VALUES (?1, ?2, ?2) "
                                   "ON CONFLICT (id) DO UPDATE SET "
                                   "acked = max(acked, excluded.acked), "
                                   "last_seq = max(last_seq, excluded.last_seq)");
            drop_.emplace(db_, "DELETE FROM messages WHERE recipient = ?1 AND seq = ?2");
            login_.emplace(db_, "INSERT INTO users (id, last_login) VALUES (?1, ?2) "
                                "ON CONFLICT (id) DO UPDATE SET last_login = excluded.last_login");
        } catch (...) {
            close_db();
            throw;
        }
        writer_ = std::thread([this] { run(); });
    }

    ~sqlite_store() override {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
        }
        wake_.notify_all();
        writer_.join();
        close_db();
    }

    bool durable() const noexcept override { return true; }

    store_contents load() override {
        std::lock_guard lock(mutex_); // the writer is idle until the first write
        store_contents out;
        statement users(db_, "SELECT id, last_seq, acked, last_login FROM users ORDER BY id");
        while (users.row())
            out.users.push_back({users.text(0), static_cast<std::uint64_t>(users.i64(1)),
                                 static_cast<std::uint64_t>(users.i64(2)), users.i64(3)});
        statement msgs(db_, "SELECT recipient, seq, sender, type, flags, body, stored_at, "
                            "expires_at FROM messages ORDER BY recipient, seq");
        while (msgs.row())
            out.messages.push_back(
                {msgs.text(0), static_cast<std::uint64_t>(msgs.i64(1)), msgs.text(2), msgs.text(5),
                 static_cast<std::uint16_t>(msgs.i64(3)), static_cast<std::uint16_t>(msgs.i64(4)),
                 msgs.i64(6), msgs.i64(7)});
        return out;
    }

    void write(std::vector<store_change_t> changes, std::function<void(error_code)> done) override {
        {
            std::lock_guard lock(mutex_);
            queued_changes_ += changes.size();
            queue_.push_back({std::move(changes), std::move(done)});
        }
        wake_.notify_one();
    }

    void flush() override {
        std::unique_lock lock(mutex_);
        idle_.wait(lock, [this] { return queue_.empty() && !busy_; });
    }

private:
    struct job {
        std::vector<store_change_t> changes;
        std::function<void(error_code)> done;
    };

    void exec(const char* sql) {
        char* msg = nullptr;
        if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
            std::string why = msg ? msg : sqlite3_errmsg(db_);
            sqlite3_free(msg);
            throw std::runtime_error("libnet: store " + options_.path + ": " + why);
        }
    }

    void check_integrity() {
        statement check(db_, "PRAGMA integrity_check");
        std::string result;
        while (check.row()) {
            if (!result.empty())
                result += "; ";
            result += check.text(0);
        }
        if (result != "ok")
            throw std::runtime_error("libnet: store " + options_.path +
                                     " failed its integrity check: " + result);
    }

    void close_db() {
        put_.reset();
        put_user_.reset();
        ack_.reset();
        ack_user_.reset();
        drop_.reset();
        login_.reset();
        sqlite3_close(db_);
        db_ = nullptr;
    }

    // The writer thread: every job queued while the last commit ran goes in one
    // transaction (group commit); their callbacks run after COMMIT.
    void run() {
        std::unique_lock lock(mutex_);
        for (;;) {
            wake_.wait(lock, [this] { return stop_ || !queue_.empty(); });
            if (queue_.empty())
                return; // stopping, and everything is written
            if (options_.group_window.count() > 0 && !stop_)
                wake_.wait_for(lock, options_.group_window,
                               [this] { return stop_ || queued_changes_ >= options_.max_group; });
            std::vector<job> group;
            std::size_t n = 0;
            while (!queue_.empty() && (group.empty() || n < options_.max_group)) {
                n += queue_.front().changes.size();
                group.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
            queued_changes_ -= n;
            busy_ = true;
            lock.unlock();
            auto const ec = apply(group);
            for (auto& j : group)
                if (j.done)
                    j.done(ec);
            lock.lock();
            busy_ = false;
            idle_.notify_all();
        }
    }

    error_code apply(const std::vector<job>& group) {
        if (sqlite3_exec(db_, "BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK)
            return error::store_failed;
        bool ok = true;
        for (auto const& j : group)
            for (auto const& c : j.changes)
                if (ok)
                    ok = std::visit([this](auto const& x) { return apply(x); }, c);
        if (ok && sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK)
            return {};
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        return error::store_failed;
    }

    bool apply(const store_change::put& p) {
        auto const& m = p.message;
        auto const seq = static_cast<std::int64_t>(m.seq);
        return put_->bind(1, m.recipient)
                   .bind(2, seq)
                   .bind(3, m.from)
                   .bind(4, std::int64_t{m.type})
                   .bind(5, std::int64_t{m.flags})
                   .blob(6, m.body)
                   .bind(7, m.stored_at)
                   .bind(8, m.expires_at)
                   .run() &&
               put_user_->bind(1, m.recipient).bind(2, seq).run();
    }
    bool apply(const store_change::ack& a) {
        auto const seq = static_cast<std::int64_t>(a.seq);
        return ack_->bind(1, a.recipient).bind(2, seq).run() &&
               ack_user_->bind(1, a.recipient).bind(2, seq).run();
    }
    bool apply(const store_change::drop& d) {
        return drop_->bind(1, d.recipient).bind(2, static_cast<std::int64_t>(d.seq)).run();
    }
    bool apply(const store_change::login& l) { return login_->bind(1, l.id).bind(2, l.time).run(); }

    sqlite_store_options options_;
    sqlite3* db_ = nullptr;
    std::optional<statement> put_, put_user_, ack_, ack_user_, drop_, login_;

    std::mutex mutex_;
    std::condition_variable wake_, idle_;
    std::deque<job> queue_;
    std::size_t queued_changes_ = 0;
    bool busy_ = false;
    bool stop_ = false;
    std::thread writer_;
};

class memory_store final : public message_store {
public:
    bool durable() const noexcept override { return false; }
    store_contents load() override { return {}; }
    void write(std::vector<store_change_t>, std::function<void(error_code)> done) override {
        if (done)
            done({});
    }
    void flush() override {}
};

} // namespace

std::shared_ptr<message_store> make_memory_store() {
    return std::make_shared<memory_store>();
}

std::shared_ptr<message_store> make_sqlite_store(sqlite_store_options options) {
    return std::make_shared<sqlite_store>(std::move(options));
}

std::shared_ptr<message_store> open_store(std::string_view spec, bool full_sync) {
    if (spec == "memory")
        return make_memory_store();
    if (spec.starts_with("sqlite:") && spec.size() > 7) {
        sqlite_store_options o;
        o.path = std::string(spec.substr(7));
        o.full_sync = full_sync;
        return make_sqlite_store(std::move(o));
    }
    throw std::invalid_argument("libnet: unknown store \"" + std::string(spec) +
                                "\" (expected memory or sqlite:PATH)");
}

} // namespace libnet
