// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_ACCESS_HPP
#define LIBNET_ACCESS_HPP

#include <map>
#include <set>
#include <string>
#include <string_view>

/// @file
/// Reading allow lists and secrets for server_options::allow_ids and
/// server_options::secrets (docs/guide.md §10.1 gives the formats).

namespace libnet {

/// Ids from a comma-separated list ("a,b,c"; spaces around names are ignored). Throws
/// std::invalid_argument naming a bad or empty id.
std::set<std::string> parse_id_list(std::string_view list);

/// An allow file: one client id per line; blank lines and lines starting with '#' are
/// skipped, and spaces around an id are ignored. Throws std::runtime_error with
/// "PATH:LINE: reason" for an unreadable file or an invalid id.
std::set<std::string> load_allow_file(const std::string& path);

/// A secrets file: one "id:secret" per line, split at the first ':' (an id can't contain
/// ':' here; a secret can). Blank lines and '#' lines are skipped; the secret is taken as
/// is, up to the end of the line (a trailing `\r` is dropped). Throws std::runtime_error
/// with "PATH:LINE: reason" (never the secret, nor a bad id, which may hold it) for a bad
/// line, an empty secret, or an id given twice, and for a file without any id:secret line.
std::map<std::string, std::string> load_secrets_file(const std::string& path);

} // namespace libnet

#endif
