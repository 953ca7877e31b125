// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_LIBNET_HPP
#define LIBNET_LIBNET_HPP

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
