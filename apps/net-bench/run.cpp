// SPDX-License-Identifier: BSL-1.0
#include "run.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>

namespace bench {

namespace {

std::string format_seconds(double s) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", s);
    return text;
}

} // namespace

runner::runner(boost::asio::io_context& ioc, std::string name, double timeout_s)
    : name_(std::move(name)), timeout_s_(timeout_s), deadline_(ioc), ticker_(ioc) {}

void runner::start(std::function<std::string()> progress, std::function<void()> on_finish) {
    progress_ = std::move(progress);
    on_finish_ = std::move(on_finish);
    start_ = std::chrono::steady_clock::now();
    deadline_.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(timeout_s_)));
    deadline_.async_wait([this](boost::system::error_code ec) {
        if (!ec && !finished_)
            finish("timed out after " + format_seconds(timeout_s_) + " s (--timeout); " +
                   progress_());
    });
    ticker_.expires_after(std::chrono::seconds(1));
    ticker_.async_wait([this](boost::system::error_code ec) {
        if (!ec)
            tick();
    });
}

void runner::tick() {
    if (finished_) // the wait had completed when finish() cancelled it
        return;
    std::cerr << name_ << ": " << progress_() << std::endl;
    ticker_.expires_at(ticker_.expiry() + std::chrono::seconds(1));
    ticker_.async_wait([this](boost::system::error_code ec) {
        if (!ec)
            tick();
    });
}

void runner::finish(std::string failure) {
    if (finished_)
        return;
    finished_ = true;
    failure_ = std::move(failure);
    deadline_.cancel();
    ticker_.cancel();
    if (on_finish_)
        on_finish_();
}

double runner::elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

int runner::report() const {
    if (failure_.empty())
        return 0;
    std::cerr << "net-bench: " << name_ << " failed: " << failure_ << std::endl;
    return 1;
}

result_line& result_line::add(std::string key, std::string value) {
    fields_.emplace_back(std::move(key), std::move(value));
    return *this;
}

result_line& result_line::add(std::string key, std::uint64_t value) {
    return add(std::move(key), std::to_string(value));
}

result_line& result_line::add(std::string key, double value, int decimals) {
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", decimals, value);
    return add(std::move(key), std::string(text));
}

void result_line::print() const {
    std::string line;
    for (auto const& [key, value] : fields_)
        line += (line.empty() ? "" : " ") + key + "=" + value;
    std::cout << line << std::endl;
}

double quantile(std::vector<double>& samples, double q) {
    if (samples.empty())
        return 0;
    std::sort(samples.begin(), samples.end());
    auto const rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(samples.size())));
    return samples[std::clamp<std::size_t>(rank, 1, samples.size()) - 1];
}

} // namespace bench
