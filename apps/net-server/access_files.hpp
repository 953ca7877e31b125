// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_APPS_NET_SERVER_ACCESS_FILES_HPP
#define LIBNET_APPS_NET_SERVER_ACCESS_FILES_HPP

// --allow-ids, --allow-file and --secrets-file: read at start, and again on SIGHUP.

#include "app_support.hpp"

#include <libnet/access.hpp>
#include <libnet/client_id.hpp>
#include <libnet/log.hpp>
#include <libnet/server.hpp>

#include <map>
#include <set>
#include <string>

namespace app {

struct access_files {
    std::string allow_ids, allow_file, secrets_file;

    struct lists {
        std::set<std::string> allow;
        std::map<std::string, std::string> secrets;
    };

    /// Reads the lists; a bad id or file throws usage_error naming it.
    lists read() const {
        lists out;
        try {
            if (!allow_ids.empty())
                out.allow = libnet::parse_id_list(allow_ids);
        } catch (const std::invalid_argument& e) {
            throw usage_error(std::string("--allow-ids: ") + e.what());
        }
        try {
            if (!allow_file.empty())
                out.allow.merge(libnet::load_allow_file(allow_file));
            if (!secrets_file.empty())
                out.secrets = libnet::load_secrets_file(secrets_file);
        } catch (const std::exception& e) {
            throw usage_error(e.what());
        }
        return out;
    }

    /// SIGHUP: reads the files again and hands them to `server`; anything wrong keeps the
    /// rules in force and says why.
    void reload(libnet::server& server, const libnet::log_function& log) const {
        if (allow_file.empty() && secrets_file.empty()) {
            auto const text = "reload: no --allow-file or --secrets-file to read";
            log({libnet::log_level::info, "access.reload_skipped", text, {}});
            return;
        }
        try {
            auto const l = read();
            server.update_access(l.allow, l.secrets);
        } catch (const std::exception& e) {
            std::string const why = e.what();
            auto const text = "reload: " + why + "; keeping the current allow list and secrets";
            libnet::log_field const fields[] = {{"reason", why}};
            log({libnet::log_level::error, "access.reload_failed", text, fields});
        }
    }
};

} // namespace app

#endif
