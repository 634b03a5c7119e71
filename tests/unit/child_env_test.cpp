// child_environment: the environment every spawned process gets.

#include "common/child_env.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include "fakes/test_support.hpp"

namespace joulebench {
namespace {

std::vector<std::string> with_prefix(const std::vector<std::string>& env, const std::string& p) {
    std::vector<std::string> out;
    std::copy_if(env.begin(), env.end(), std::back_inserter(out),
                 [&](const std::string& e) { return e.rfind(p, 0) == 0; });
    return out;
}

TEST(ChildEnvironment, InheritsReplacesAndAddsWithTheLaterValueWinning) {
    test::ScopedEnv kept("JB_CHILD_ENV_KEPT", "inherited");
    test::ScopedEnv replaced("JB_CHILD_ENV_REPLACED", "old");
    auto env = child_environment({{"JB_CHILD_ENV_REPLACED", "first"},
                                  {"JB_CHILD_ENV_NEW", "x=y"},
                                  {"JB_CHILD_ENV_REPLACED", "second"}});
    EXPECT_EQ(with_prefix(env, "JB_CHILD_ENV_KEPT="),
              std::vector<std::string>{"JB_CHILD_ENV_KEPT=inherited"});
    EXPECT_EQ(with_prefix(env, "JB_CHILD_ENV_REPLACED="),
              std::vector<std::string>{"JB_CHILD_ENV_REPLACED=second"});
    EXPECT_EQ(with_prefix(env, "JB_CHILD_ENV_NEW="),
              std::vector<std::string>{"JB_CHILD_ENV_NEW=x=y"});
    // PATH and the like pass through untouched.
    if (const char* path = std::getenv("PATH")) {
        EXPECT_EQ(with_prefix(env, "PATH="), std::vector<std::string>{std::string("PATH=") + path});
    }
    const auto pointers = environment_pointers(env);
    ASSERT_EQ(pointers.size(), env.size() + 1);
    EXPECT_EQ(pointers.back(), nullptr);
    EXPECT_EQ(pointers.front(), env.front().data());
}

}  // namespace
}  // namespace joulebench
