// SPDX-License-Identifier: BSL-1.0
#include <libnet/access.hpp>
#include <libnet/client_id.hpp>

#include <fstream>
#include <stdexcept>

namespace libnet {
namespace {

std::string_view trim(std::string_view s) {
    auto const first = s.find_first_not_of(" \t\r");
    if (first == std::string_view::npos)
        return {};
    auto const last = s.find_last_not_of(" \t\r");
    return s.substr(first, last - first + 1);
}

// Calls f(line_number, line) for every line that is not blank or a comment.
template <class F>
void for_each_line(const std::string& path, F f) {
    std::ifstream in(path);
    if (!in)
        throw std::runtime_error(path + ": can't read");
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
        auto const t = trim(line);
        if (t.empty() || t.front() == '#')
            continue;
        f(n, std::string_view(line));
    }
    if (in.bad())
        throw std::runtime_error(path + ": read error");
}

std::string where(const std::string& path, int line) {
    return path + ":" + std::to_string(line) + ": ";
}

} // namespace

std::set<std::string> parse_id_list(std::string_view list) {
    std::set<std::string> out;
    if (trim(list).empty())
        return out;
    for (;;) {
        auto const comma = list.find(',');
        auto const id = trim(list.substr(0, comma));
        if (!is_valid_client_id(id))
            throw std::invalid_argument("invalid client id \"" + std::string(id) + "\"");
        out.emplace(id);
        if (comma == std::string_view::npos)
            return out;
        list.remove_prefix(comma + 1);
    }
}

std::set<std::string> load_allow_file(const std::string& path) {
    std::set<std::string> out;
    for_each_line(path, [&](int n, std::string_view line) {
        auto const id = trim(line);
        if (!is_valid_client_id(id))
            throw std::runtime_error(where(path, n) + "invalid client id \"" + std::string(id) +
                                     "\"");
        out.emplace(id);
    });
    return out;
}

std::map<std::string, std::string> load_secrets_file(const std::string& path) {
    std::map<std::string, std::string> out;
    for_each_line(path, [&](int n, std::string_view line) {
        auto const colon = line.find(':');
        if (colon == std::string_view::npos)
            throw std::runtime_error(where(path, n) + "expected id:secret");
        auto const id = trim(line.substr(0, colon));
        auto secret = line.substr(colon + 1);
        if (!secret.empty() && secret.back() == '\r')
            secret.remove_suffix(1);
        if (!is_valid_client_id(id)) // not echoed: a mistyped line may hold the secret
            throw std::runtime_error(where(path, n) + "invalid client id before the ':'");
        if (secret.empty())
            throw std::runtime_error(where(path, n) + "empty secret for " + std::string(id));
        if (!out.emplace(id, secret).second)
            throw std::runtime_error(where(path, n) + std::string(id) + " is given twice");
    });
    if (out.empty()) // a file that protects nothing is a mistake, not a policy
        throw std::runtime_error(path + ": no id:secret lines");
    return out;
}

} // namespace libnet
