// SPDX-License-Identifier: BSL-1.0
#include "core.hpp"
#include "peer_link.hpp"

#include <limits>

namespace libnet::detail {

peer_link::peer_link(transport stream, const client_options& o, client_core* core, bool dialer)
    // No queue bound here: the window of unacknowledged messages bounds what is queued.
    : connection(
          std::move(stream),
          // Large reads: a link carries bulk traffic, and each read costs an ACK.
          {o.max_frame, std::numeric_limits<std::size_t>::max(), o.close_timeout, 64 * 1024}),
      dialer(dialer), core_(core) {}

void peer_link::on_frame(frame_view f) {
    try {
        core_->on_link_frame(*this, f);
    } catch (...) { // from a hook
        core_->hook_failed(std::current_exception());
    }
}

void peer_link::on_closing(error_code reason) {
    core_->on_link_closing(*this, reason);
}

bool peer_link::want_read() {
    return core_->want_read();
}

} // namespace libnet::detail
