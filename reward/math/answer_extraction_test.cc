#include "reward/math/answer_extraction.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>

#include "reward/math/math_verify.h"

namespace r1::reward {
namespace {

ExtractedAnswer Extract(absl::string_view completion, const ExtractionOptions& options = {}) {
  return ExtractFinalAnswer(completion, options);
}

void ExpectFound(const ExtractedAnswer& a, absl::string_view text, absl::string_view source) {
  EXPECT_TRUE(a.found) << "reason=" << a.reason;
  if (a.text.size() > 1000 || text.size() > 1000) {  // no megabytes in the log
    EXPECT_TRUE(a.text == text) << "text starts " << a.text.substr(0, 200);
  } else {
    EXPECT_EQ(a.text, text);
  }
  EXPECT_EQ(a.source, source);
}

void ExpectMissing(const ExtractedAnswer& a, absl::string_view reason) {
  EXPECT_FALSE(a.found) << "text=" << a.text.substr(0, 200) << " source=" << a.source;
  EXPECT_EQ(a.reason, reason);
}

// ---- \boxed ----

TEST(ExtractBoxed, LastBoxedWins) {
  ExpectFound(Extract("First \\boxed{1}, then corrected: \\boxed{2}."), "2", "boxed");
}

TEST(ExtractBoxed, NestedBracesAreMatched) {
  ExpectFound(Extract("So $\\boxed{\\frac{1}{\\sqrt{2}}}$"), "\\frac{1}{\\sqrt{2}}", "boxed");
}

TEST(ExtractBoxed, EscapedBracesDoNotCount) {
  ExpectFound(Extract("\\boxed{\\{1, 2\\}}"), "\\{1, 2\\}", "boxed");
  ExpectFound(Extract("\\boxed{\\}}"), "\\}", "boxed");
}

TEST(ExtractBoxed, FboxIsABox) { ExpectFound(Extract("\\fbox{7} done"), "7", "boxed"); }

TEST(ExtractBoxed, LaterFboxBeatsEarlierBoxed) {
  // Decision: boxes parted only by whitespace form one answer (see
  // ExtractBoxGroup); with prose between them the later one wins.
  ExpectFound(Extract("\\boxed{1}, no: \\fbox{2}"), "2", "boxed");
  ExpectFound(Extract("\\fbox{1}, no: \\boxed{2}"), "2", "boxed");
  ExpectFound(Extract("\\boxed{1} \\fbox{2}"), "1, 2", "boxed");
}

TEST(ExtractBoxed, BoxedWithoutBracesTakesOneToken) {
  ExpectFound(Extract("the answer is \\boxed 5 apples"), "5", "boxed");
  ExpectFound(Extract("$\\boxed -3$"), "-3", "boxed");
}

TEST(ExtractBoxed, ContentIsTrimmed) { ExpectFound(Extract("\\boxed{  42 \n}"), "42", "boxed"); }

TEST(ExtractBoxed, SpaceBeforeBraceIsAllowed) { ExpectFound(Extract("\\boxed {9}"), "9", "boxed"); }

TEST(ExtractBoxed, LongerCommandIsNotBoxed) {
  ExpectMissing(Extract("\\boxedx{3}"), "no_answer");
  ExpectFound(Extract("\\boxed{4} \\boxedtext{3}"), "4", "boxed");
}

TEST(ExtractBoxed, UnbalancedLastBoxIsATruncatedAnswer) {
  ExpectMissing(Extract("\\boxed{\\frac{1}{2}"), "unbalanced_braces");
  // The draft box before it is not used in place of the truncated final one.
  ExpectMissing(Extract("\\boxed{1} and finally \\boxed{2"), "unbalanced_braces");
}

TEST(ExtractBoxed, EmptyBoxIsReported) {
  ExpectMissing(Extract("\\boxed{}"), "empty_boxed");
  ExpectMissing(Extract("\\boxed{   }"), "empty_boxed");
  ExpectMissing(Extract("ends with \\boxed"), "empty_boxed");
}

TEST(ExtractBoxed, DisabledBoxIsIgnored) {
  ExtractionOptions options;
  options.boxed = false;
  ExpectMissing(Extract("\\boxed{3}", options), "no_answer");
}

TEST(ExtractBoxed, NoAnswerInPlainText) {
  ExpectMissing(Extract("I think it is probably 5."), "no_answer");
  ExpectMissing(Extract(""), "no_answer");
}

// ---- <answer> ----

TEST(ExtractAnswerTag, ContentOfLastBlock) {
  ExpectFound(Extract("<think>maybe 3</think><answer> 42 </answer>"), "42", "answer_tag");
  ExpectFound(Extract("<answer>1</answer> wait <answer>2</answer>"), "2", "answer_tag");
}

TEST(ExtractAnswerTag, BoxInsideTagIsUnwrapped) {
  ExtractionOptions options;
  options.boxed = false;
  ExpectFound(Extract("<answer>The answer is \\boxed{7}.</answer>", options), "7", "answer_tag");
}

TEST(ExtractAnswerTag, BoxComesBeforeTag) {
  ExpectFound(Extract("\\boxed{3} <answer>4</answer>"), "3", "boxed");
}

TEST(ExtractAnswerTag, TagUsedWhenLastBoxIsBroken) {
  ExpectFound(Extract("\\boxed{3 <answer>4</answer>"), "4", "answer_tag");
}

TEST(ExtractAnswerTag, UnclosedAndEmptyTags) {
  ExpectMissing(Extract("<answer>5"), "unclosed_answer_tag");
  ExpectMissing(Extract("<answer>1</answer><answer>5"), "unclosed_answer_tag");
  ExpectMissing(Extract("<answer>  </answer>"), "empty_answer_tag");
}

TEST(ExtractAnswerTag, DisabledTagIsIgnored) {
  ExtractionOptions options;
  options.answer_tag = false;
  ExpectMissing(Extract("<answer>5</answer>", options), "no_answer");
}

// ---- pattern ----

TEST(ExtractPattern, LastMatchWins) {
  ExtractionOptions options;
  options.pattern = "Answer:\\s*(\\d+)";
  ExpectFound(Extract("Answer: 12\nAnswer: 34\n", options), "34", "pattern");
}

TEST(ExtractPattern, MatchesDoNotOverlap) {
  ExtractionOptions options;
  options.pattern = "(\\d+)";
  ExpectFound(Extract("first 12 then 345", options), "345", "pattern");
}

TEST(ExtractPattern, PatternBeatsBox) {
  ExtractionOptions options;
  options.pattern = "#### (.+)";
  ExpectFound(Extract("\\boxed{1}\n#### 5", options), "5", "pattern");
}

TEST(ExtractPattern, FallsBackWhenNoMatchOrEmptyCapture) {
  ExtractionOptions options;
  options.pattern = "#### (\\d*)";
  ExpectFound(Extract("\\boxed{1}", options), "1", "boxed");
  ExpectFound(Extract("#### \n\\boxed{2}", options), "2", "boxed");
}

TEST(ExtractPattern, InvalidPatternIsReported) {
  ExtractionOptions options;
  options.pattern = "(unclosed";
  ExpectMissing(Extract("\\boxed{1}", options), "invalid_pattern");
  options.pattern = "\\d+";  // no capture group
  ExpectMissing(Extract("\\boxed{1}", options), "invalid_pattern");
}

TEST(ExtractPattern, EmptyMatchesTerminate) {
  ExtractionOptions options;
  options.pattern = "(x*)";
  ExpectMissing(Extract("abc", options), "no_answer");
  ExpectFound(Extract("ab xx c", options), "xx", "pattern");
}

// ---- several boxes: one answer ----

TEST(ExtractBoxGroup, AdjacentBoxesAreJoined) {
  ExpectFound(Extract("\\boxed{1}, \\boxed{2}"), "1, 2", "boxed");
  ExpectFound(Extract("So $\\boxed{1}$ and $\\boxed{2}$."), "1, 2", "boxed");
  ExpectFound(Extract("\\boxed{1}\\boxed{2}"), "1, 2", "boxed");
  ExpectFound(Extract("\\(\\boxed{1}\\), \\(\\boxed{2}\\), or \\(\\boxed{3}\\)"), "1, 2, 3", "boxed");
  ExpectFound(Extract("$$\\boxed{x=1} \\quad \\boxed{x=2}$$"), "x=1, x=2", "boxed");
  ExpectFound(Extract("\\[\\boxed{1}\\]\n\\[\\boxed{2}\\]"), "1, 2", "boxed");
  ExpectFound(Extract("$\\boxed{3} \\text{ and } \\boxed{4}$"), "3, 4", "boxed");
  ExpectFound(Extract("\\boxed{1};\\boxed{2} \\\\ \\boxed{3}"), "1, 2, 3", "boxed");
  ExpectFound(Extract("\\boxed{1, 2}, \\boxed{(3, 4)}"), "1, 2, (3, 4)", "boxed");
  ExpectFound(Extract("\\fbox{a} AND \\boxed{b}"), "a, b", "boxed");
}

TEST(ExtractBoxGroup, DraftBoxesAreNotJoined) {
  ExpectFound(Extract("Draft: \\boxed{1}. Let me check again. \\boxed{2}"), "2", "boxed");
  ExpectFound(Extract("\\boxed{1}\n\nWait, that is wrong.\n\n\\boxed{2}"), "2", "boxed");
  ExpectFound(Extract("\\boxed{3} is a guess; so \\boxed{4}"), "4", "boxed");
  ExpectFound(Extract("\\boxed{1}. \\boxed{2}"), "2", "boxed");  // a full stop ends a sentence
  ExpectFound(Extract("\\boxed{1} = \\boxed{2}"), "2", "boxed");
  ExpectFound(Extract("\\boxed{1}, \\boxed{2} were drafts; \\boxed{3} and \\boxed{4}"), "3, 4", "boxed");
  ExpectFound(Extract("$\\boxed{1}$ \\textbf{no} $\\boxed{2}$"), "2", "boxed");
  ExpectFound(Extract("\\boxed{1} \\text{ since } \\boxed{2}"), "2", "boxed");
}

TEST(ExtractBoxGroup, NestedAndBrokenBoxes) {
  ExpectFound(Extract("\\boxed{\\boxed{1}}"), "1", "boxed");  // the last box is the inner one
  ExpectFound(Extract("\\boxed{x = \\frac{1}{2}}, \\boxed{y = \\{3\\}}"), "x = \\frac{1}{2}, y = \\{3\\}", "boxed");
  ExpectMissing(Extract("\\boxed{}, \\boxed{2}"), "empty_boxed");  // part of the answer is missing
  ExpectMissing(Extract("\\boxed{1}, \\boxed{"), "unbalanced_braces");
  ExpectFound(Extract("\\boxed{1 \\boxed{2}"), "2", "boxed");  // the unclosed one is not a group member
}

TEST(ExtractBoxGroup, SignBeforeTheBoxBelongsToTheAnswer) {
  ExpectFound(Extract("$x = -\\boxed{5}$"), "-(5)", "boxed");
  ExpectFound(Extract("$- \\boxed{x+1}$"), "-(x+1)", "boxed");
  ExpectFound(Extract("\\boxed{1} - \\boxed{2}"), "-(2)", "boxed");
  ExpectFound(Extract("$-\\boxed{1}, \\boxed{2}$"), "-(1), 2", "boxed");
  // A Markdown bullet is not a sign.
  ExpectFound(Extract("Answers:\n- \\boxed{5}"), "5", "boxed");
  ExpectFound(Extract("- \\boxed{5}"), "5", "boxed");
}

// ---- the gold answer ----

TEST(GoldAnswer, BoxesAreExtractedFromTheGold) {
  EXPECT_EQ(GoldAnswerText("7"), "7");
  EXPECT_EQ(GoldAnswerText("\\frac{1}{2}"), "\\frac{1}{2}");
  EXPECT_EQ(GoldAnswerText("\\boxed{7}"), "7");
  EXPECT_EQ(GoldAnswerText("The answer is $\\boxed{\\frac{1}{2}}$."), "\\frac{1}{2}");
  EXPECT_EQ(GoldAnswerText("$\\boxed{1}$ and $\\boxed{2}$"), "1, 2");
  EXPECT_EQ(GoldAnswerText("So $x = -\\boxed{3}$"), "-(3)");
}

TEST(GoldAnswer, AmbiguousGoldIsReadWhole) {
  // Boxes in separate groups, broken boxes: the gold as it was.
  EXPECT_EQ(GoldAnswerText("(a) \\boxed{1} (b) \\boxed{2}"), "(a) \\boxed{1} (b) \\boxed{2}");
  EXPECT_EQ(GoldAnswerText("\\boxed{1"), "\\boxed{1");
  EXPECT_EQ(GoldAnswerText("\\boxed{}"), "\\boxed{}");
  EXPECT_EQ(GoldAnswerText("\\boxed{\\boxed{1}}"), "\\boxed{\\boxed{1}}");
  // Golds are not completions: no think or answer tags, no phrases.
  EXPECT_EQ(GoldAnswerText("<think>x</think>the answer is 5"), "<think>x</think>the answer is 5");
}

// ---- only the text after </think> ----

TEST(ExtractAfterThink, DraftsInsideThinkAreIgnored) {
  ExpectFound(Extract("<think>maybe \\boxed{1}</think>So \\boxed{2}"), "2", "boxed");
  ExpectFound(Extract("<think>\\boxed{9}</think><answer>7</answer>"), "7", "answer_tag");
  ExpectFound(Extract("<think>a</think>x<think>b</think>\\boxed{3}"), "3", "boxed");
  ExpectFound(Extract("prompt opened it</think> the answer is 4."), "4", "answer_is");
  ExpectFound(Extract("no think tags at all: \\boxed{5}"), "5", "boxed");
}

TEST(ExtractAfterThink, NothingAfterThinkIsNoAnswer) {
  ExpectMissing(Extract("<think>the answer is \\boxed{1}</think>"), "no_answer");
  ExpectMissing(Extract("<think>the answer is 5</think>  \n"), "no_answer");
  ExpectMissing(Extract("<think>$x = 5$</think>I am not sure."), "no_answer");
  ExtractionOptions options;
  options.pattern = "#### (\\d+)";
  ExpectMissing(Extract("<think>#### 1</think>none", options), "no_answer");
  ExpectFound(Extract("<think>#### 1</think>#### 2", options), "2", "pattern");
}

TEST(ExtractAfterThink, UnfinishedThinkHasItsReason) {
  ExpectMissing(Extract("<think>so \\boxed{1}"), "unfinished_think");
  ExpectMissing(Extract("<think>so <answer>1</answer>"), "unfinished_think");
  ExpectMissing(Extract("<think>a</think><answer>3</answer><think>more"), "unfinished_think");
}

TEST(ExtractAfterThink, OptionOffSearchesEverything) {
  ExtractionOptions options;
  options.after_think = false;
  ExpectFound(Extract("<think>so \\boxed{1}", options), "1", "boxed");
  ExpectFound(Extract("<think>\\boxed{9}</think><answer>7</answer>", options), "9", "boxed");
  ExpectFound(Extract("<think>the answer is 5</think>", options), "5", "answer_is");
}

// ---- free text: priority order ----

TEST(ExtractFreeText, StructuredFormsComeFirst) {
  ExpectFound(Extract("The answer is 3. \\boxed{4}"), "4", "boxed");
  ExpectFound(Extract("the answer is 3 <answer>4</answer>"), "4", "answer_tag");
  // A broken box or tag is a cut-off final answer: no guess from the prose.
  ExpectMissing(Extract("The answer is 3. \\boxed{4"), "unbalanced_braces");
  ExpectMissing(Extract("The answer is 3. \\boxed{}"), "empty_boxed");
  ExpectMissing(Extract("the answer is 3 <answer>4"), "unclosed_answer_tag");
  ExpectMissing(Extract("the answer is 3 <answer> </answer>"), "empty_answer_tag");
}

TEST(ExtractFreeText, MostExplicitPhraseFirst) {
  ExpectFound(Extract("The final answer is 4. Earlier I said the answer is 3."), "4", "final_answer_phrase");
  ExpectFound(Extract("the answer is 3\nAnswer: 4"), "4", "answer_colon");
  ExpectFound(Extract("the answer is $3$. Check: $3 + 0 = 3$"), "3", "answer_is");
  ExpectFound(Extract("We get $x = 2$.\nAnswer: 4"), "4", "answer_colon");
}

TEST(ExtractFreeText, DisabledFreeText) {
  ExtractionOptions options;
  options.free_text = false;
  ExpectMissing(Extract("the answer is 3", options), "no_answer");
  ExpectMissing(Extract("$x = 3$", options), "no_answer");
}

// ---- free text: "final answer" (Minerva) ----

TEST(ExtractFinalAnswerPhrase, Minerva) {
  ExpectFound(Extract("Final Answer: The final answer is $\\frac{1}{2}$. I hope it is correct."),
              "\\frac{1}{2}", "final_answer_phrase");
  ExpectFound(Extract("The final answer is 42. I hope it is correct."), "42", "final_answer_phrase");
  ExpectFound(Extract("Final Answer: The final answer is 7 I hope it is correct"), "7", "final_answer_phrase");
  ExpectFound(Extract("Final Answer: The final answer is $(1, 2)$.I hope it is correct."), "(1, 2)",
              "final_answer_phrase");
}

TEST(ExtractFinalAnswerPhrase, OtherWordings) {
  ExpectFound(Extract("Final answer: 12"), "12", "final_answer_phrase");
  ExpectFound(Extract("**Final Answer:** 12"), "12", "final_answer_phrase");
  ExpectFound(Extract("**Final Answer**\n\n$3\\sqrt{2}$"), "3\\sqrt{2}", "final_answer_phrase");
  ExpectFound(Extract("The final answer to the problem is $8$."), "8", "final_answer_phrase");
  ExpectFound(Extract("The final answers are $1$ and $2$."), "1, 2", "final_answer_phrase");
  ExpectFound(Extract("Final answer: the answer is 6"), "6", "final_answer_phrase");
  ExpectFound(Extract("The final answer is 3. Wait.\nFinal Answer: The final answer is 5. I hope it is correct."),
              "5", "final_answer_phrase");
}

TEST(ExtractFinalAnswerPhrase, NotAPhrase) {
  // "final answer" that states nothing: later forms decide.
  ExpectFound(Extract("Before the final answer, check: $x=3$."), "x=3", "last_math");
  ExpectMissing(Extract("I will give the final answer soon"), "no_answer");
  ExpectMissing(Extract("The final answer is"), "no_answer");
  ExpectMissing(Extract("The final answers will come later"), "no_answer");
  // Not "final answer" but still "answer is".
  ExpectFound(Extract("The semifinal answer is 3"), "3", "answer_is");
}

// ---- free text: "Answer:" at the end ----

TEST(ExtractAnswerColon, BareValueAtTheEnd) {
  ExpectFound(Extract("We compute.\nAnswer: 42"), "42", "answer_colon");
  ExpectFound(Extract("**Answer:** $\\frac{3}{4}$"), "\\frac{3}{4}", "answer_colon");
  ExpectFound(Extract("ANSWER: 12.\n"), "12", "answer_colon");
  ExpectFound(Extract("Answer:\n  x = 7  "), "x = 7", "answer_colon");
  ExpectFound(Extract("Answer: 1\nAnswer: 2"), "2", "answer_colon");
}

TEST(ExtractAnswerColon, NotAtTheEnd) {
  ExpectMissing(Extract("Answer: 5\nHmm, let me redo this. Actually it is different."), "no_answer");
  ExpectMissing(Extract("Answer:   \n"), "no_answer");
  ExpectMissing(Extract("Answer: not 5"), "negated_answer");
}

// ---- free text: "the answer is" ----

TEST(ExtractAnswerIs, LastOccurrenceUpToTheSentenceEnd) {
  ExpectFound(Extract("So the answer is 7."), "7", "answer_is");
  ExpectFound(Extract("Therefore, the answer is $\\dfrac{5}{2}$, which is positive."), "\\dfrac{5}{2}",
              "answer_is");
  ExpectFound(Extract("the answer is 3. Hmm... so the answer is 5."), "5", "answer_is");
  ExpectFound(Extract("The answer is: 10 apples"), "10 apples", "answer_is");
  ExpectFound(Extract("the answer is 6, respectively"), "6", "answer_is");
  ExpectFound(Extract("the answers are 1, 2, and 3."), "1, 2, and 3", "answer_is");
  ExpectFound(Extract("The answer is **9**."), "9", "answer_is");
  ExpectFound(Extract("My answer is 3.5!"), "3.5", "answer_is");
  ExpectFound(Extract("The answer is\n$$x^2$$"), "x^2", "answer_is");
  ExpectFound(Extract("The answer is 3 or 5."), "3 or 5", "answer_is");  // a set to the verifier, not 5
}

TEST(ExtractAnswerIs, NegatedPhraseIsNeverReplaced) {
  ExpectMissing(Extract("The answer is not 5."), "negated_answer");
  ExpectMissing(Extract("the answer is 5. No wait, the answer isn't 5."), "negated_answer");
  ExpectMissing(Extract("So the answer is $5$. Hmm, no, the answer is not $5$."), "negated_answer");
  ExpectMissing(Extract("the answers aren't $1$ and $2$"), "negated_answer");
  ExpectMissing(Extract("<answer>The answer is not 5</answer>"), "negated_answer");
  // A retraction after a more explicit phrase retracts it too.
  ExpectMissing(Extract("Final Answer: 5. Wait, the answer isn't 5."), "negated_answer");
  ExpectMissing(Extract("The final answer is 5.\nHmm, the answer is not 5."), "negated_answer");
  // A negation before the deciding phrase does not.
  ExpectFound(Extract("The answer is not 4.\nAnswer: 5"), "5", "answer_colon");
}

TEST(ExtractAnswerIs, WordsThatOnlyLookLikeIt) {
  ExpectMissing(Extract("the answer isolates nothing"), "no_answer");
  ExpectMissing(Extract("the answer is"), "no_answer");
  ExpectMissing(Extract("I think it is probably 5."), "no_answer");
}

// ---- free text: the last math span ----

TEST(ExtractLastMath, LastSpanOfAnyKind) {
  ExpectFound(Extract("So $x = 3$."), "x = 3", "last_math");
  ExpectFound(Extract("Thus \\(\\frac{1}{2}\\) remains"), "\\frac{1}{2}", "last_math");
  ExpectFound(Extract("Result:\n\\[ 9 \\]\nDone"), "9", "last_math");
  ExpectFound(Extract("Result:\n$$\n10\n$$"), "10", "last_math");
  ExpectFound(Extract("Let $n$ be odd. Then $n^2 = 9$ gives $n = 3$."), "n = 3", "last_math");
  ExpectFound(Extract("We have $a=\\$5$ left"), "a=\\$5", "last_math");
}

TEST(ExtractLastMath, AdjacentSpansAreJoined) {
  ExpectFound(Extract("The roots are $1$ and $2$."), "1, 2", "last_math");
  ExpectFound(Extract("so $x=1$, $y=2$"), "x=1, y=2", "last_math");
  ExpectFound(Extract("$1$, $2$, or $3$"), "1, 2, 3", "last_math");
  ExpectFound(Extract("$1$ is wrong; it is $2$"), "2", "last_math");
}

TEST(ExtractLastMath, NegatedSentenceStatesNoAnswer) {
  ExpectMissing(Extract("so $x = 5$ is not a solution"), "negated_answer");
  ExpectMissing(Extract("We check $5$. It works.\nBut $x = 5$ isn't allowed"), "negated_answer");
  ExpectMissing(Extract("Clearly x cannot be $5$."), "negated_answer");
  ExpectMissing(Extract("$7$ would be wrong"), "negated_answer");
  // Negations in other sentences do not matter.
  ExpectFound(Extract("That is not possible. So $x = 6$."), "x = 6", "last_math");
  ExpectFound(Extract("Not $5$.\nThus $6$"), "6", "last_math");
  ExpectFound(Extract("$1$ is wrong; it is $2$"), "2", "last_math");
  ExpectMissing(Extract("so $x=5$; this is not valid"), "negated_answer");
  ExpectFound(Extract("The knot has $3$ crossings"), "3", "last_math");  // a word, not a part of one
}

TEST(ExtractLastMath, DollarsThatAreNotMath) {
  ExpectMissing(Extract("It costs $5 and $10 in total."), "no_answer");
  ExpectMissing(Extract("a $ 5 $ b"), "no_answer");
  ExpectMissing(Extract("price \\$5 and \\$6"), "no_answer");
  ExpectMissing(Extract("between $5$0 and"), "no_answer");  // a closing $ before a digit is a price
  ExpectMissing(Extract("$x\n= 5$"), "no_answer");            // inline math stays on one line
  ExpectMissing(Extract("$$ $$ \\( \\) \\[ \\]"), "no_answer");  // blank spans
}

TEST(ExtractLastMath, UnbalancedDelimiters) {
  ExpectMissing(Extract("so $x = 5"), "no_answer");
  ExpectMissing(Extract("so \\(x = 5"), "no_answer");
  ExpectMissing(Extract("so $$x = 5"), "no_answer");
  ExpectMissing(Extract("so \\[x = 5"), "no_answer");
  ExpectFound(Extract("$$x = 5 and then $6$"), "6", "last_math");
  ExpectFound(Extract("\\( open, then \\[ 7 \\]"), "7", "last_math");
}

// ---- answer tag with phrases ----

TEST(ExtractAnswerTag, PhraseInsideTheTag) {
  ExpectFound(Extract("<answer>The answer is 5.</answer>"), "5", "answer_tag");
  ExpectFound(Extract("<answer>Final Answer: The final answer is $3$. I hope it is correct.</answer>"), "3",
              "answer_tag");
  ExpectFound(Extract("<answer>5 apples</answer>"), "5 apples", "answer_tag");
  ExpectFound(Extract("<answer>$\\boxed{1}$ and $\\boxed{2}$</answer>"), "1, 2", "boxed");
  ExtractionOptions options;
  options.boxed = false;
  ExpectFound(Extract("<answer>\\boxed{1}, \\boxed{2}</answer>", options), "1, 2", "answer_tag");
}

// ---- end to end: extraction and the verifier, zero false accepts ----

struct Graded {
  bool correct;
  std::string reason;
};

Graded Grade(absl::string_view completion, absl::string_view gold) {
  const ExtractedAnswer answer = ExtractFinalAnswer(completion);
  if (!answer.found) return {false, answer.reason};
  const MathVerdict verdict = VerifyMathAnswer(answer.text, GoldAnswerText(gold));
  return {verdict.correct, verdict.reason};
}

TEST(ExtractAndVerify, RightAnswersInEveryForm) {
  const std::pair<const char*, const char*> cases[] = {
      {"\\boxed{1}, \\boxed{2}", "1, 2"},
      {"$\\boxed{2}$ and $\\boxed{1}$", "\\{1, 2\\}"},
      {"\\boxed{3}, \\boxed{4}", "\\boxed{3}, \\boxed{4}"},
      {"Final Answer: The final answer is $\\frac{1}{2}$. I hope it is correct.", "\\frac12"},
      {"So the answer is 7.", "7"},
      {"Answer: 42", "The answer is $\\boxed{42}$."},
      {"The roots are $x = 1$ and $x = 2$.", "1, 2"},
      {"<think>maybe 3</think>The answer is $5$.", "5"},
      {"$x = -\\boxed{5}$", "-5"},
  };
  for (const auto& [completion, gold] : cases) {
    const Graded g = Grade(completion, gold);
    EXPECT_TRUE(g.correct) << completion << " vs " << gold << ": " << g.reason;
  }
}

TEST(ExtractAndVerify, WrongAnswersInEveryFormFail) {
  const std::pair<const char*, const char*> cases[] = {
      {"\\boxed{1}, \\boxed{2}", "2"},                  // a hedge is not the answer
      {"\\boxed{1} and \\boxed{2}", "1"},
      {"$\\boxed{1}$ or $\\boxed{2}$", "2"},
      {"\\boxed{2}", "\\boxed{1}, \\boxed{2}"},
      {"\\boxed{1}, \\boxed{2}", "\\boxed{1}"},
      {"$x = -\\boxed{5}$", "5"},
      {"<think>\\boxed{5}</think>\\boxed{4}", "5"},
      {"<think>\\boxed{5}", "5"},
      {"<think>the answer is 5</think>", "5"},
      {"The answer is not 5.", "5"},
      {"the answer is 5. No wait, the answer isn't 5.", "5"},
      {"So the answer is $5$. Hmm, no, the answer is not $5$.", "5"},
      {"the answer is 3 or 5", "5"},
      {"It costs $5 and $10", "5"},
      {"$x = 5$ fails, so $x = 6$", "5"},
      {"so $x = 5$ is not a solution", "5"},
      {"The roots are $1$ and $2$.", "2"},
      {"Final Answer: The final answer is $7$. I hope it is correct.", "5"},
      {"Answer: 5\nWait, no. Let me redo it.", "5"},
      {"Final Answer: 5. Wait, the answer isn't 5.", "5"},
      {"\\boxed{5", "5"},
      {"The answer is 5. \\boxed{6", "5"},
      {"The answer is 5. <answer>6", "5"},
      {"$\\boxed{1}$ \\text{ and } $\\boxed{2}$", "1"},
  };
  for (const auto& [completion, gold] : cases) {
    const Graded g = Grade(completion, gold);
    EXPECT_FALSE(g.correct) << completion << " vs " << gold << ": " << g.reason;
  }
}

// ---- limits and adversarial input ----

TEST(ExtractLimits, LongInputIsRefused) {
  ExpectMissing(Extract(std::string((1 << 20) + 1, 'a')), "input_too_long");
  ExtractionOptions options;
  options.max_input_bytes = 10;
  ExpectMissing(Extract("\\boxed{12345}", options), "input_too_long");
}

TEST(ExtractAdversarial, MillionNestedBracesUnclosed) {
  const std::string text = "\\boxed" + std::string(1000000, '{');
  ExpectMissing(Extract(text), "unbalanced_braces");
}

TEST(ExtractAdversarial, MillionNestedBracesClosed) {
  const std::string inner = std::string(1000000, '{') + "x" + std::string(1000000, '}');
  ExtractionOptions options;
  options.max_input_bytes = 4 << 20;
  ExtractedAnswer a = Extract("\\boxed{" + inner + "}", options);
  EXPECT_TRUE(a.found);
  EXPECT_EQ(a.text.size(), inner.size());
}

TEST(ExtractAdversarial, FiveMegabytesOfText) {
  ExtractionOptions options;
  options.max_input_bytes = 8 << 20;
  const std::string text(5 << 20, 'a');
  ExpectMissing(Extract(text), "input_too_long");
  ExpectMissing(Extract(text, options), "no_answer");
  ExpectFound(Extract(text + "\\boxed{1}", options), "1", "boxed");
}

TEST(ExtractAdversarial, ManyBoxesAndTags) {
  ExtractionOptions options;
  options.max_input_bytes = 8 << 20;
  std::string boxes;
  for (int i = 0; i < 500000; ++i) boxes += "\\boxed{";
  ExpectMissing(Extract(boxes, options), "unbalanced_braces");
  std::string tags;
  for (int i = 0; i < 500000; ++i) tags += "<answer>";
  ExpectMissing(Extract(tags, options), "unclosed_answer_tag");
  options.pattern = "Answer: (\\d)";
  std::string answers;
  for (int i = 0; i < 300000; ++i) answers += "Answer: 1 ";
  ExpectFound(Extract(answers + "Answer: 2", options), "2", "pattern");
}

TEST(ExtractAdversarial, PatternScansStayLinear) {
  ExtractionOptions options;
  options.pattern = "(\\d+)";
  std::string numbers;
  for (int i = 0; i < 100000; ++i) numbers += "7 ";  // more matches than one scan allows
  ExpectFound(Extract(numbers + "12345 end", options), "12345", "pattern");
  // A failing optional tail makes every search read to the end of the text.
  options.pattern = "(a)(?:.*z)?";
  ExpectFound(Extract(std::string(1 << 20, 'a'), options), "a", "pattern");
  options.pattern = "(x*)";
  ExpectMissing(Extract(std::string(1 << 20, 'a'), options), "no_answer");
  // Matches longer than a search window are found whole.
  options.pattern = "Answer: (.*)";
  const std::string line(100000, '9');
  ExpectFound(Extract("Answer: 1\nAnswer: " + line + "\nthe end", options), line, "pattern");
  options.pattern = "(\\d+)$";
  ExpectFound(Extract(numbers + "42", options), "42", "pattern");
}

TEST(ExtractAdversarial, BinaryBytes) {
  std::string text;
  uint32_t state = 12345;
  for (int i = 0; i < 1 << 20; ++i) {
    state = state * 1664525u + 1013904223u;
    text.push_back(static_cast<char>(state >> 24));
  }
  ExtractionOptions options;
  options.max_input_bytes = 4 << 20;
  const ExtractedAnswer a = Extract(text, options);  // any verdict, no crash
  EXPECT_TRUE(a.found || !a.reason.empty());
  const std::string nul_and_high("\x00\x80", 2);
  ExpectFound(Extract(text + "\\boxed{\xff" + nul_and_high + "}" + nul_and_high, options),
              "\xff" + nul_and_high, "boxed");
}

// Every free-text form on inputs built to make a naive scan quadratic or
// deep; each ends in a verdict (a quadratic scan of these would not finish).
TEST(ExtractAdversarial, FreeTextScansStayLinear) {
  ExtractionOptions options;
  options.max_input_bytes = 8 << 20;
  const auto repeat = [](absl::string_view piece, size_t times) {
    std::string out;
    out.reserve(piece.size() * times);
    for (size_t i = 0; i < times; ++i) out.append(piece.data(), piece.size());
    return out;
  };
  ExpectMissing(Extract(std::string(1 << 20, '$'), options), "no_answer");  // "$$" pairs, all blank
  ExpectMissing(Extract(repeat("$a ", 400000), options), "no_answer");       // no closer for any opener
  ExpectMissing(Extract(repeat("$ a", 400000), options), "no_answer");
  ExpectMissing(Extract(repeat("\\(", 500000), options), "no_answer");
  ExpectMissing(Extract(repeat("\\[", 500000) + repeat("$$", 100000), options), "no_answer");
  ExpectMissing(Extract(repeat("the answer is ", 100000), options), "no_answer");
  ExpectMissing(Extract(repeat("final answer ", 100000), options), "no_answer");
  ExpectMissing(Extract(repeat("Answer:\n", 200000), options), "no_answer");
  ExpectMissing(Extract(repeat("answer isn", 100000), options), "no_answer");
  ExpectFound(Extract(repeat("the answer is 1. ", 100000) + "the answer is 2.", options), "2", "answer_is");
  ExpectFound(Extract(repeat("$1$ x ", 200000) + "$2$", options), "2", "last_math");
  // One group of 200,000 spans or boxes: joined whole.
  ExtractedAnswer spans = Extract(repeat("$1$, ", 200000), options);
  EXPECT_EQ(spans.source, "last_math");
  EXPECT_EQ(spans.text.size(), 200000 * 3 - 2);
  ExtractedAnswer boxes = Extract(repeat("\\boxed{1}, ", 200000), options);
  EXPECT_EQ(boxes.source, "boxed");
  EXPECT_EQ(boxes.text.size(), 200000 * 3 - 2);
  // Boxes that are never closed before the next one, behind a closed one.
  ExpectFound(Extract(repeat("\\boxed{", 300000) + "x}, \\boxed{2}", options), "x, 2", "boxed");
  ExpectFound(Extract(repeat("\\boxed{1} x ", 200000) + "\\boxed{2}", options), "2", "boxed");
  ExpectMissing(Extract(repeat("\\text{and}", 200000) + "\\boxed{", options), "unbalanced_braces");
  // A million nested braces inside a math span: the span is the answer text
  // (the verifier bounds its depth).
  const std::string nested = std::string(1000000, '{') + "1" + std::string(1000000, '}');
  ExtractedAnswer deep = Extract("so $" + nested + "$", options);
  EXPECT_EQ(deep.source, "last_math");
  EXPECT_EQ(deep.text.size(), nested.size());
  // An opening '$' that never closes: the phrase's value is the plain text
  // (which the verifier refuses); no span is guessed.
  const ExtractedAnswer open = Extract("the answer is $" + std::string(1000000, '{'), options);
  EXPECT_EQ(open.source, "answer_is");
  EXPECT_EQ(open.text.size(), 1000001u);
}

TEST(ExtractAdversarial, BinaryBytesAfterThink) {
  std::string text;
  uint32_t state = 777;
  for (int i = 0; i < 1 << 20; ++i) {
    state = state * 1664525u + 1013904223u;
    text.push_back(static_cast<char>(state >> 24));
  }
  ExtractionOptions options;
  options.max_input_bytes = 4 << 20;
  for (const std::string& input : {text, "<think>" + text, text + "</think>" + text, "$" + text + "$"}) {
    const ExtractedAnswer a = Extract(input, options);
    EXPECT_TRUE(a.found || !a.reason.empty());
  }
  ExpectMissing(Extract("<think>" + text, options), "unfinished_think");
}

TEST(ExtractAdversarial, InvalidUtf8WithPattern) {
  ExtractionOptions options;
  options.pattern = "Answer: (\\d)";
  ExpectFound(Extract("Answer: 1 \xff\xfe\xc3 Answer: 2 \xed\xa0\x80", options), "2", "pattern");
  options.pattern = "(.+)";
  const ExtractedAnswer a = Extract("\xff\xfe\xfd", options);
  EXPECT_TRUE(a.found || a.reason == "no_answer");
}

}  // namespace
}  // namespace r1::reward
