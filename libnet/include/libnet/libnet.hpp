// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_LIBNET_HPP
#define LIBNET_LIBNET_HPP

/// @file
/// Every public header of libnet at once.

/// @namespace libnet
/// libnet's public API: the server, the client and what they are configured with, the
/// events a client receives, errors, stores and the codec. libnet::msg holds the typed wire
/// messages; libnet::detail is internal.

#include <libnet/access.hpp>
#include <libnet/blocking_client.hpp>
#include <libnet/client.hpp>
#include <libnet/client_id.hpp>
#include <libnet/codec.hpp>
#include <libnet/error.hpp>
#include <libnet/event.hpp>
#include <libnet/frame.hpp>
#include <libnet/messages.hpp>
#include <libnet/server.hpp>
#include <libnet/store.hpp>
#include <libnet/tls_options.hpp>
#include <libnet/version.hpp>

#endif
