// SPDX-License-Identifier: BSL-1.0
#include "directory.hpp"
#include "session.hpp"

#include <boost/endian/conversion.hpp>

#include <algorithm>
#include <cstring>

namespace libnet::detail {

namespace {

// Appends the encoding of `m` to `out`; returns where it starts.
template <class Message>
std::size_t append(std::vector<std::uint8_t>& out, const Message& m) {
    auto const at = out.size();
    auto const n = msg::encoded_size(m);
    out.resize(at + n);
    msg::encode_into(m, std::span<std::uint8_t>(out.data() + at, n));
    return at;
}

// A buffer that grew for a storm is given back once it is drained.
void release_if_large(std::vector<std::uint8_t>& v) {
    if (v.capacity() > 64 * 1024)
        std::vector<std::uint8_t>().swap(v);
    else
        v.clear();
}

// A JOINED frame and a directory entry field have the same value; only the header's first
// two bytes differ (frame type 0x0004, field tag 8).
constexpr std::size_t entry_overhead = field_header_size;

} // namespace

server_session* directory::find(std::string_view id) const noexcept {
    auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : it->second;
}

bool directory::fits(std::string_view id, std::string_view endpoint) const noexcept {
    auto const entry =
        entry_overhead + msg::encoded_size(msg::joined{{id, 1, endpoint}}) - frame_header_size;
    return entries_.size() + entry <= max_frame_;
}

const directory::remote* directory::find_remote(std::string_view id) const noexcept {
    if (remotes_.empty())
        return nullptr;
    auto it = remotes_.find(id);
    return it == remotes_.end() ? nullptr : &it->second;
}

void directory::append_entry(std::string_view id, std::uint64_t join_seq,
                             std::string_view endpoint) {
    auto const at = append(deltas_, msg::joined{{id, join_seq, endpoint}});
    auto const size = deltas_.size() - at;
    ++delta_frames_;
    entries_.insert(entries_.end(), deltas_.begin() + static_cast<std::ptrdiff_t>(at),
                    deltas_.end());
    boost::endian::store_big_u16(entries_.data() + entries_.size() - size,
                                 static_cast<std::uint16_t>(msg::tag::entry));
    slots_.push_back({std::string(id), static_cast<std::uint32_t>(size)});
}

void directory::erase_entry(std::string_view id, std::uint64_t join_seq, msg::leave_reason reason,
                            bool quiet) {
    auto it =
        std::find_if(slots_.begin(), slots_.end(), [id](const slot& e) { return e.id == id; });
    if (it != slots_.end()) {
        std::size_t from = 0;
        for (auto e = slots_.begin(); e != it; ++e)
            from += e->size;
        auto const first = entries_.begin() + static_cast<std::ptrdiff_t>(from);
        entries_.erase(first, first + it->size);
        slots_.erase(it);
    }
    if (!quiet) {
        append(deltas_, msg::left{id, join_seq, reason});
        ++delta_frames_;
    }
}

bool directory::add(member s) {
    return add(std::move(s), next_join_seq_);
}

bool directory::add(member s, std::uint64_t join_seq) {
    bool const was_due = due();
    s->join_seq_ = join_seq;
    next_join_seq_ = join_seq + 1;
    append_entry(s->id_, s->join_seq_, s->endpoint_);
    by_id_.emplace(s->id_, s.get());
    members_.push_back(std::move(s));
    ++joiners_;
    return !was_due;
}

bool directory::add_remote(std::string id, remote r) {
    bool const was_due = due();
    append_entry(id, r.join_seq, r.endpoint);
    remotes_.emplace(std::move(id), std::move(r));
    return !was_due;
}

bool directory::remove(server_session& s, msg::leave_reason reason, bool quiet) {
    auto it = std::find_if(members_.begin(), members_.end(),
                           [&s](const member& m) { return m.get() == &s; });
    if (it == members_.end())
        return false;
    bool const was_due = due();
    erase_entry(s.id_, s.join_seq_, reason, quiet);
    if (!s.announced_.load(std::memory_order_relaxed))
        --joiners_;
    by_id_.erase(s.id_);
    members_.erase(it);
    return !was_due && due();
}

bool directory::remove_remote(std::string_view id, msg::leave_reason reason) {
    auto it = remotes_.find(id);
    if (it == remotes_.end())
        return false;
    bool const was_due = due();
    erase_entry(id, it->second.join_seq, reason, false);
    remotes_.erase(it);
    return !was_due && due();
}

shared_frame directory::snapshot() const {
    auto const n = frame_header_size + entries_.size();
    auto p = std::make_shared_for_overwrite<std::uint8_t[]>(n);
    boost::endian::store_big_u16(p.get(), static_cast<std::uint16_t>(frame_type::directory));
    boost::endian::store_big_u32(p.get() + 2, static_cast<std::uint32_t>(entries_.size()));
    if (!entries_.empty())
        std::memcpy(p.get() + frame_header_size, entries_.data(), entries_.size());
    return {std::move(p), n, 1};
}

shared_frame directory::take_deltas() {
    if (deltas_.empty())
        return {};
    auto p = std::make_shared_for_overwrite<std::uint8_t[]>(deltas_.size());
    std::memcpy(p.get(), deltas_.data(), deltas_.size());
    shared_frame f{std::move(p), deltas_.size(), delta_frames_};
    release_if_large(deltas_);
    delta_frames_ = 0;
    return f;
}

void directory::announce(std::vector<member>& welcomed) {
    auto const deltas = take_deltas();
    shared_frame snap;
    for (auto const& m : members_) {
        if (!m->announced_.load(std::memory_order_relaxed)) {
            if (m->presence_) {
                if (!snap.data)
                    snap = snapshot(); // one for every joiner of the batch
                m->enqueue(snap);
            }
            m->announced_.store(true, std::memory_order_release);
            welcomed.push_back(m);
        } else if (deltas.data && m->presence_) {
            m->enqueue(deltas);
        }
    }
    joiners_ = 0;
}

} // namespace libnet::detail
