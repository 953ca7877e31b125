// SPDX-License-Identifier: BSL-1.0
// Who may register: the allow list and the secrets, checked at registration and replaced
// while the server runs (server::update_access, net-server's SIGHUP).

#include "core.hpp"

#include <libnet/client_id.hpp>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdexcept>

namespace libnet::detail {

namespace {

std::string sha256(std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), out, &len, EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("libnet: SHA-256 failed");
    return std::string(reinterpret_cast<const char*>(out), len);
}

// Why a registered client may not stay under the new rules, or success.
error_code revoked(const access_rules& before, const access_rules& after, std::string_view id) {
    if (!after.listed(id))
        return error::not_allowed;
    auto const now = after.digests.find(id);
    if (now == after.digests.end())
        return {};
    auto const then = before.digests.find(id);
    return then != before.digests.end() && then->second == now->second ? error_code()
                                                                       : error::auth_failed;
}

} // namespace

access_rules::access_rules(const std::set<std::string>& ids,
                           const std::map<std::string, std::string>& secrets)
    : allow(ids.begin(), ids.end()) {
    for (auto const& [id, secret] : secrets)
        digests.emplace(id, sha256(secret));
}

error_code server_core::check_access(const access_rules& rules, std::string_view id,
                                     const msg::hello& h) {
    if (!rules.listed(id))
        return error::not_allowed;
    if (auto it = rules.digests.find(id); it != rules.digests.end()) {
        auto const given = sha256(h.credentials); // fixed length: the compare takes fixed time
        if (given.size() != it->second.size() ||
            CRYPTO_memcmp(given.data(), it->second.data(), given.size()) != 0)
            return error::auth_failed;
    }
    return {};
}

std::size_t server_core::update_access(const std::set<std::string>& allow_ids,
                                       const std::map<std::string, std::string>& secrets) {
    for (auto const& id : allow_ids)
        if (!is_valid_client_id(id))
            throw std::invalid_argument("update_access: '" + id + "' is not a valid client id");
    for (auto const& [id, secret] : secrets)
        if (!is_valid_client_id(id))
            throw std::invalid_argument("update_access: '" + id + "' is not a valid client id");
    auto const next = std::make_shared<const access_rules>(allow_ids, secrets);
    struct closing {
        std::shared_ptr<server_session> session;
        error_code ec;
        std::string id;
    };
    std::vector<closing> out;
    {
        std::lock_guard lock(mutex_);
        auto const before = access_.load();
        // An empty list lets anyone in and has no mailboxes: that takes a restart.
        if (before->allow.empty() != next->allow.empty())
            throw std::invalid_argument(before->allow.empty()
                                            ? "update_access: this server has no allow list"
                                            : "update_access: the allow list would be empty");
        access_.store(next);
        if (!next->allow.empty()) {
            for (auto const& id : next->allow)
                mailbox_of(id);
            for (auto const& [id, digest] : next->digests)
                mailbox_of(id);
        }
        for (auto const& s : sessions_)
            if (s->registered_)
                if (auto ec = revoked(*before, *next, s->id_))
                    out.push_back({s, ec, s->id_});
        // In a cluster, registrations checked before the change may wait for their claim:
        // closed now, the claim finds them closing and gives the id back.
        for (auto const& c : claims_)
            if (c.second.session && !c.second.session->registered_)
                if (auto ec = revoked(*before, *next, c.first))
                    out.push_back({c.second.session, ec, c.first});
        for (auto const& c : out) {
            auto const code = static_cast<error>(c.ec.value());
            auto const text = code == error::not_allowed ? "this id is no longer allowed"
                                                         : "this id's secret has changed";
            c.session->close(
                code, make_frame(msg::error{static_cast<std::uint16_t>(code), text, 0, 0, c.id}));
        }
    }
    if (!logging())
        return out.size();
    auto const allowed = std::to_string(next->allow.size());
    auto const with_secrets = std::to_string(next->digests.size());
    auto const closed = std::to_string(out.size());
    log(log_level::info, "access.updated",
        "access: " + allowed + " ids allowed, " + with_secrets + " with secrets; " + closed +
            " clients closed",
        {{"allowed", allowed}, {"with_secrets", with_secrets}, {"closed", closed}});
    for (auto const& c : out) {
        auto const why =
            c.ec == error::not_allowed ? "no longer allowed" : "its secret has changed";
        log(log_level::info, "access.revoked", "closed " + c.id + ": " + why,
            {{"id", c.id}, {"reason", why}, {"code", to_string(static_cast<error>(c.ec.value()))}});
    }
    return out.size();
}

} // namespace libnet::detail
