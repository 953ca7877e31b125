// SPDX-License-Identifier: BSL-1.0
#ifndef LIBNET_APPS_CONFIG_SOURCES_HPP
#define LIBNET_APPS_CONFIG_SOURCES_HPP

// Where a program's settings come from, highest precedence first: the command line, LIBNET_*
// environment variables, then the --config file. Every flag may come from any of the three.

#include "app_support.hpp"

#include <boost/program_options.hpp>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

extern char** environ;

namespace app {

/// "max-frame" -> "LIBNET_MAX_FRAME".
inline std::string environment_name(const std::string& option) {
    std::string name = "LIBNET_";
    for (char c : option)
        name += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return name;
}

struct config_sources {
    std::string file;                 ///< the --config file read, if any
    std::vector<std::string> ignored; ///< LIBNET_* variables that name no flag
};

/// A stored value as text, for --check-config; a password in a URL is masked.
inline std::string describe_value(const std::string& name,
                                  const boost::program_options::variable_value& v) {
    auto const& any = v.value();
    std::string text = "(set)";
    if (auto p = boost::any_cast<std::string>(&any))
        text = *p;
    else if (auto p = boost::any_cast<bool>(&any))
        text = *p ? "true" : "false";
    else if (auto p = boost::any_cast<unsigned>(&any))
        text = std::to_string(*p);
    else if (auto p = boost::any_cast<unsigned long>(&any))
        text = std::to_string(*p);
    else if (auto p = boost::any_cast<unsigned short>(&any))
        text = std::to_string(*p);
    else if (auto p = boost::any_cast<int>(&any))
        text = std::to_string(*p);
    if (name == "cluster") {
        for (std::size_t at = text.find('@'); at != std::string::npos;
             at = text.find('@', at + 1)) {
            auto const start = text.rfind("//", at);
            auto const colon = text.find(':', start == std::string::npos ? 0 : start + 2);
            if (colon != std::string::npos && colon < at) {
                text.replace(colon + 1, at - colon - 1, "***");
                at = colon + 4;
            }
        }
    }
    return text;
}

/// Stores the command line, then the environment, then the config file into `vm` (a value
/// stored first wins). `settings` holds the flags the three share; `command_line_only` (help,
/// version, config, check-config) is read from the command line alone, except that
/// LIBNET_CONFIG names the file when --config does not.
inline config_sources
store_sources(int argc, char** argv, const boost::program_options::options_description& settings,
              const boost::program_options::options_description& command_line_only,
              boost::program_options::variables_map& vm) {
    namespace po = boost::program_options;
    config_sources sources;
    po::options_description all;
    all.add(command_line_only).add(settings);
    try {
        po::store(po::parse_command_line(argc, argv, all), vm);
    } catch (const po::error& e) {
        throw usage_error(e.what());
    }

    std::map<std::string, std::string> option_of; // LIBNET_MAX_FRAME -> max-frame
    for (auto const& o : settings.options())
        option_of.emplace(environment_name(o->long_name()), o->long_name());
    for (char** e = environ; *e != nullptr; ++e) {
        std::string const entry = *e;
        auto const name = entry.substr(0, entry.find('='));
        if (name.starts_with("LIBNET_") && name != "LIBNET_CONFIG" && !option_of.contains(name))
            sources.ignored.push_back(name);
    }
    try {
        auto const to_option = [&option_of](const std::string& name) -> std::string {
            auto const it = option_of.find(name);
            return it == option_of.end() ? std::string() : it->second;
        };
        po::store(po::parse_environment(settings, to_option), vm);
    } catch (const po::error& e) {
        throw usage_error(std::string("in the environment: ") + e.what());
    }

    if (vm.count("config"))
        sources.file = vm["config"].as<std::string>();
    else if (char const* env = std::getenv("LIBNET_CONFIG"))
        sources.file = env;
    if (!sources.file.empty()) {
        std::ifstream in(sources.file);
        if (!in)
            throw usage_error("--config: cannot read '" + sources.file + "'");
        try {
            po::store(po::parse_config_file(in, settings), vm);
        } catch (const po::error& e) {
            throw usage_error(sources.file + ": " + e.what());
        }
    }
    try {
        po::notify(vm);
    } catch (const po::error& e) {
        throw usage_error(e.what());
    }
    return sources;
}

/// --check-config: everything parsed and every named file read; print where each setting came
/// from and exit 0.
[[noreturn]] inline void print_settings_and_exit(const boost::program_options::variables_map& vm,
                                                 const config_sources& sources) {
    for (auto const& name : sources.ignored)
        std::cout << "# ignored: " << name << " names no setting\n";
    for (auto const& [name, value] : vm) {
        if (name == "check-config" || name == "config" || value.defaulted())
            continue;
        std::cout << name << " = " << describe_value(name, value) << '\n';
    }
    std::cout << "# configuration OK" << (sources.file.empty() ? "" : " (" + sources.file + ")")
              << '\n';
    std::exit(0);
}

} // namespace app

#endif
