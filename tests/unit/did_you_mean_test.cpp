// Suggestions for misspelt words: the edit distance, how close a word must be to be suggested,
// and which of equally close words wins.

#include "model/did_you_mean.hpp"

#include <gtest/gtest.h>

namespace joulebench {
namespace {

TEST(DidYouMean, EditDistanceCountsInsertionsDeletionsAndSubstitutions) {
    EXPECT_EQ(edit_distance("", ""), 0U);
    EXPECT_EQ(edit_distance("seed", "seed"), 0U);
    EXPECT_EQ(edit_distance("", "abc"), 3U);
    EXPECT_EQ(edit_distance("abc", ""), 3U);
    EXPECT_EQ(edit_distance("sed", "seed"), 1U);          // one insertion
    EXPECT_EQ(edit_distance("shuffled", "shuffle"), 1U);  // one deletion
    EXPECT_EQ(edit_distance("dokcer", "docker"), 2U);     // a swap is two substitutions
    EXPECT_EQ(edit_distance("kitten", "sitting"), 3U);
}

TEST(DidYouMean, ClosestWordAllowsAThirdOfTheLengthBetweenOneAndThreeEdits) {
    const std::vector<std::string_view> allowed = {"from", "to", "step"};
    EXPECT_EQ(closest_word("stp", allowed), "step");  // 1 edit always allowed
    EXPECT_EQ(closest_word("tx", allowed), "to");
    EXPECT_FALSE(closest_word("zzzz", allowed));   // 4 edits from each
    EXPECT_FALSE(closest_word("stap_", allowed));  // 2 edits, but 5 / 3 allows 1
    // A third of the length: 2 edits for 8 characters, 3 for 9, and never more than 3.
    EXPECT_EQ(closest_word("abcdefgh", {"abcdefxx"}), "abcdefxx");
    EXPECT_FALSE(closest_word("abcdefgh", {"abcdexxx"}));
    EXPECT_EQ(closest_word("abcdefghi", {"abcdefxxx"}), "abcdefxxx");
    EXPECT_FALSE(closest_word("abcdefghijkl", {"abcdefghxxxx"}));
}

TEST(DidYouMean, ClosestWordPrefersTheNearestThenTheFirst) {
    EXPECT_EQ(closest_word("bat", {"bart", "bet"}), "bart");  // both 1 edit: the first
    EXPECT_EQ(closest_word("bat", {"bxtx", "bet"}), "bet");   // 2 edits > 1 allowed
    EXPECT_EQ(closest_word("abcdefghi", {"abcdefxxx", "abcdefghx"}), "abcdefghx");
    EXPECT_FALSE(closest_word("word", {}));
}

TEST(DidYouMean, HintIsPrefixedWithTheSuggestionWhenThereIsOne) {
    EXPECT_EQ(did_you_mean("shuffle", {"shuffled", "blocked"}, "use shuffled or blocked"),
              "did you mean 'shuffled'? use shuffled or blocked");
    EXPECT_EQ(did_you_mean("random", {"shuffled", "blocked"}, "use shuffled or blocked"),
              "use shuffled or blocked");
}

}  // namespace
}  // namespace joulebench
