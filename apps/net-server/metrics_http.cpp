// SPDX-License-Identifier: BSL-1.0
#include "metrics_http.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <mutex>
#include <unordered_map>

namespace app {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using response = http::response<http::string_body>;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

response answer(http::status status, unsigned version, bool keep_alive, std::string body = {}) {
    response res(status, version);
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.body() = body.empty() ? std::string(http::obsolete_reason(status)) + "\n" : std::move(body);
    res.keep_alive(keep_alive);
    res.prepare_payload();
    return res;
}

response respond(const std::map<std::string, http_page>& pages,
                 const http::request<http::string_body>& req) {
    auto const target = std::string_view(req.target());
    auto const page = pages.find(std::string(target.substr(0, target.find('?'))));
    if (page == pages.end())
        return answer(http::status::not_found, req.version(), req.keep_alive());
    if (req.method() != http::verb::get) {
        auto res = answer(http::status::method_not_allowed, req.version(), req.keep_alive());
        res.set(http::field::allow, "GET");
        return res;
    }
    auto res = answer(http::status::ok, req.version(), req.keep_alive(), page->second.render());
    res.set(http::field::content_type, page->second.content_type);
    res.set(http::field::cache_control, "no-store");
    return res;
}

// A read error that is the request's fault, answered with 400.
bool bad_request(beast::error_code ec) {
    static auto const& parse_errors = http::make_error_code(http::error::end_of_stream).category();
    return ec.category() == parse_errors && ec != http::error::end_of_stream;
}

} // namespace

struct metrics_http::state : std::enable_shared_from_this<state> {
    state(asio::any_io_executor ex, std::map<std::string, http_page> p, http_limits l)
        : ex(ex), acceptor(asio::make_strand(ex)), pages(std::move(p)), limits(l) {}

    asio::any_io_executor ex;
    tcp::acceptor acceptor;
    const std::map<std::string, http_page> pages;
    const http_limits limits;
    std::mutex mutex; // guards what follows
    bool stopped = false;
    std::uint64_t next_id = 0;
    std::unordered_map<std::uint64_t, std::weak_ptr<beast::tcp_stream>> open;

    // The coroutines own the state: it outlives metrics_http until they are done.
    static asio::awaitable<void> accept_loop(std::shared_ptr<state> self);
    static asio::awaitable<void> serve(std::shared_ptr<state> self,
                                       std::shared_ptr<beast::tcp_stream> stream, std::uint64_t id);
    void admit(tcp::socket socket);
    void forget(std::uint64_t id) {
        std::lock_guard lock(mutex);
        open.erase(id);
    }
};

asio::awaitable<void> metrics_http::state::accept_loop(std::shared_ptr<state> self) {
    auto& acceptor = self->acceptor;
    asio::steady_timer backoff(acceptor.get_executor());
    while (acceptor.is_open()) {
        auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(self->ex), use_tuple);
        if (ec == asio::error::operation_aborted || !acceptor.is_open())
            co_return;
        if (ec) { // out of descriptors, say: try again soon rather than spin
            backoff.expires_after(std::chrono::milliseconds(100));
            co_await backoff.async_wait(use_tuple);
            continue;
        }
        self->admit(tcp::socket(std::move(socket)));
    }
}

void metrics_http::state::admit(tcp::socket socket) {
    auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
    std::uint64_t id;
    {
        std::lock_guard lock(mutex);
        if (stopped || open.size() >= limits.max_connections) {
            // A fresh socket's send buffer is empty: this never blocks.
            static constexpr std::string_view busy =
                "HTTP/1.1 503 Service Unavailable\r\n"
                "Content-Length: 0\r\nConnection: close\r\n\r\n";
            beast::error_code ignored;
            stream->socket().non_blocking(true, ignored);
            stream->socket().send(asio::buffer(busy), 0, ignored);
            stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
            return;
        }
        id = next_id++;
        open.emplace(id, stream);
    }
    asio::co_spawn(stream->get_executor(), serve(shared_from_this(), stream, id), asio::detached);
}

asio::awaitable<void> metrics_http::state::serve(std::shared_ptr<state> self,
                                                 std::shared_ptr<beast::tcp_stream> stream,
                                                 std::uint64_t id) {
    auto const& limits = self->limits;
    beast::flat_buffer buffer(limits.max_header_bytes + limits.max_body_bytes);
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.header_limit(limits.max_header_bytes);
        parser.body_limit(limits.max_body_bytes);
        stream->expires_after(limits.timeout);
        auto [ec, n] = co_await http::async_read(*stream, buffer, parser, use_tuple);
        if (ec && !bad_request(ec))
            break; // closed, timed out or stopped
        auto res =
            ec ? answer(http::status::bad_request, 11, false) : respond(self->pages, parser.get());
        stream->expires_after(limits.timeout);
        auto [wec, written] = co_await http::async_write(*stream, res, use_tuple);
        if (wec || !res.keep_alive())
            break;
    }
    beast::error_code ignored;
    stream->socket().shutdown(tcp::socket::shutdown_send, ignored);
    self->forget(id);
}

metrics_http::metrics_http(asio::any_io_executor ex, const std::string& host,
                           const std::string& port, std::map<std::string, http_page> pages,
                           http_limits limits)
    : state_(std::make_shared<state>(ex, std::move(pages), limits)) {
    tcp::resolver resolver(ex);
    auto const ep =
        resolver.resolve(host, port, tcp::resolver::numeric_service).begin()->endpoint();
    auto& a = state_->acceptor;
    a.open(ep.protocol());
    a.set_option(tcp::acceptor::reuse_address(true));
    a.bind(ep);
    a.listen();
}

metrics_http::~metrics_http() {
    stop();
}

tcp::endpoint metrics_http::local_endpoint() const {
    return state_->acceptor.local_endpoint();
}

void metrics_http::start() {
    asio::co_spawn(state_->acceptor.get_executor(), state::accept_loop(state_), asio::detached);
}

void metrics_http::stop() {
    std::unordered_map<std::uint64_t, std::weak_ptr<beast::tcp_stream>> open;
    {
        std::lock_guard lock(state_->mutex);
        if (std::exchange(state_->stopped, true))
            return;
        open.swap(state_->open);
    }
    asio::post(state_->acceptor.get_executor(), [st = state_] {
        beast::error_code ignored;
        st->acceptor.close(ignored);
    });
    for (auto& entry : open) // not a structured binding: clang 14 can't capture one
        if (auto stream = entry.second.lock())
            asio::post(stream->get_executor(), [weak = entry.second] {
                if (auto s = weak.lock())
                    s->close();
            });
}

} // namespace app
