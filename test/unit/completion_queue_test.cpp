#include "../../libnet/src/client/pending.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include <catch2/catch.hpp>

#include <memory>
#include <stdexcept>
#include <string>

// The client's completion queue: completions gathered on the strand, run in order by one
// posted function, never inside add().

using libnet::detail::completion_queue;

namespace {
struct fixture {
    boost::asio::io_context ioc;
    std::shared_ptr<completion_queue> q =
        std::make_shared<completion_queue>(boost::asio::make_strand(ioc.get_executor()));
    std::string log;

    completion_queue::function note(char c) {
        return completion_queue::function([this, c] { log += c; });
    }
};
} // namespace

TEST_CASE("completion_queue: completions run in the order added, never inside add") {
    fixture f;
    f.q->add(f.note('a'));
    f.q->add(f.note('b'));
    CHECK(f.log.empty());
    f.q->add(completion_queue::function([&f] {
        f.log += 'c';
        f.q->add(f.note('e')); // added while running: after everything already gathered
    }));
    f.q->add(f.note('d'));
    f.ioc.run();
    CHECK(f.log == "abcde");
}

TEST_CASE("completion_queue: a completion that throws leaves the rest for the next run") {
    fixture f;
    f.q->add(f.note('a'));
    f.q->add(completion_queue::function([] { throw std::runtime_error("from a handler"); }));
    f.q->add(f.note('b'));
    f.q->add(f.note('c'));
    CHECK_THROWS_AS(f.ioc.run(), std::runtime_error);
    CHECK(f.log == "a");
    f.ioc.restart();
    f.ioc.run();
    CHECK(f.log == "abc");
}
