#include "directory.hpp"
#include "session.hpp"

#include <boost/endian/conversion.hpp>

#include <algorithm>
#include <cstring>
#include <numeric>

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

bool directory::add(member s) {
    bool const was_due = due();
    s->join_seq_ = next_join_seq_++;
    auto const at = append(deltas_, msg::joined{{s->id_, s->join_seq_, s->endpoint_}});
    auto const size = deltas_.size() - at;
    ++delta_frames_;
    entries_.insert(entries_.end(), deltas_.begin() + static_cast<std::ptrdiff_t>(at),
                    deltas_.end());
    boost::endian::store_big_u16(entries_.data() + entries_.size() - size,
                                 static_cast<std::uint16_t>(msg::tag::entry));
    entry_size_.push_back(static_cast<std::uint32_t>(size));
    by_id_.emplace(s->id_, s.get());
    members_.push_back(std::move(s));
    ++joiners_;
    return !was_due;
}

bool directory::remove(server_session& s, msg::leave_reason reason, bool quiet) {
    auto it = std::find_if(members_.begin(), members_.end(),
                           [&s](const member& m) { return m.get() == &s; });
    if (it == members_.end())
        return false;
    bool const was_due = due();
    auto const i = static_cast<std::size_t>(it - members_.begin());
    auto const from = std::accumulate(entry_size_.begin(), entry_size_.begin() + i, std::size_t{0});
    auto const first = entries_.begin() + static_cast<std::ptrdiff_t>(from);
    entries_.erase(first, first + entry_size_[i]);
    entry_size_.erase(entry_size_.begin() + static_cast<std::ptrdiff_t>(i));
    if (!s.announced_.load(std::memory_order_relaxed))
        --joiners_;
    by_id_.erase(s.id_);
    members_.erase(it);
    if (!quiet) {
        append(deltas_, msg::left{s.id_, s.join_seq_, reason});
        ++delta_frames_;
    }
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
