// Answer forms the normalizer reads: grouped numbers ("32,\!349", "1 000"),
// decimal commas, base-n numerals ("204_5"), clock times ("9:30 PM") and
// multiple-choice letters ("(B) 42"). Every form has wrong-value cases: a
// wrong answer in any form must not pass.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "reward/math/latex_normalizer.h"
#include "reward/math/math_verify.h"

namespace r1::reward {
namespace {

using math_internal::NormalizeAnswer;
using math_internal::ReadDecimalComma;

enum class Expect {
  kEqual,     // verdict "equal"
  kNotEqual,  // verdict "not_equal": both sides parse, the values differ
  kRejected,  // any verdict but "equal" (an unparsable form is rejected too)
};

struct Case {
  const char* name;
  const char* answer;
  const char* gold;
  Expect expect;
};

void Check(const Case& c, const MathVerdict& v) {
  switch (c.expect) {
    case Expect::kEqual:
      EXPECT_EQ(v.reason, "equal") << "answer: " << c.answer << "  gold: " << c.gold;
      break;
    case Expect::kNotEqual:
      EXPECT_EQ(v.reason, "not_equal") << "answer: " << c.answer << "  gold: " << c.gold;
      break;
    case Expect::kRejected:
      EXPECT_NE(v.reason, "equal") << "answer: " << c.answer << "  gold: " << c.gold;
      break;
  }
  EXPECT_EQ(v.correct, c.expect == Expect::kEqual)
      << "answer: " << c.answer << "  gold: " << c.gold << "  reason: " << v.reason;
}

class AnswerForms : public ::testing::TestWithParam<Case> {};

TEST_P(AnswerForms, Verdict) {
  const Case& c = GetParam();
  Check(c, VerifyMathAnswer(c.answer, c.gold));
}

std::string CaseName(const ::testing::TestParamInfo<Case>& info) { return info.param.name; }

#define R1_FORMS(suite, table) \
  INSTANTIATE_TEST_SUITE_P(suite, AnswerForms, ::testing::ValuesIn(table), CaseName)

constexpr Expect kEqual = Expect::kEqual;
constexpr Expect kNotEqual = Expect::kNotEqual;
constexpr Expect kRejected = Expect::kRejected;

// ---- grouped numbers ----

const Case kGroupedNumbers[] = {
    {"LatexCommaThinSpace", "32,\\!349", "32349", kEqual},
    {"LatexBracedComma", "32{,}349", "32349", kEqual},
    {"LatexBracedCommaWithSpaces", "14 {, }916", "14916", kEqual},
    {"LatexThinSpace", "32\\,349", "32349", kEqual},
    {"LatexCommaThinSpaceThenSpace", "11,\\! 111,\\! 111,\\! 100", "11111111100", kEqual},
    {"ThinSpaceMillions", "1\\,000\\,000", "1000000", kEqual},
    {"GoldGrouped", "32349", "32{,}349", kEqual},
    {"BothGroupedDifferently", "32{,}349", "32,\\!349", kEqual},
    {"Dollars", "\\$10,\\!000", "10000", kEqual},
    {"SpaceThousands", "1 000", "1000", kEqual},
    {"SpaceMillions", "1 000 000", "10^6", kEqual},
    {"ControlSpaceThousands", "1\\ 000", "1000", kEqual},
    {"TildeThousands", "1~000", "1000", kEqual},
    {"NarrowNoBreakSpace", "1\u202f000", "1000", kEqual},
    {"NoBreakSpace", "12\u00a0345", "12345", kEqual},
    {"NegativeGrouped", "-1 000", "-1000", kEqual},
    {"SpaceThousandsWithDecimals", "12 345.5", "12345.5", kEqual},
    {"GroupedFraction", "3.141\\,592\\,6", "3.1415926", kEqual},
    {"GroupedBothParts", "1\\,000.000\\,5", "1000.0005", kEqual},
    {"GroupedInTuple", "(1\\,000, 2\\,000)", "(1000, 2000)", kEqual},
    {"GroupedInList", "1 000, 2 000", "2000, 1000", kEqual},
    {"GroupedWithUnit", "5 000 cm", "5000", kEqual},
    {"GroupedTimesPower", "1\\,000 \\cdot 10^3", "10^6", kEqual},
    {"MixedNumberStays", "2 1/2", "5/2", kEqual},
    {"ThinSpaceBeforeUnitStillDropped", "5\\,\\text{cm}", "5", kEqual},
    {"NegativeThinSpaceAloneDropped", "\\!5", "5", kEqual},
    // Wrong values and malformed groups.
    {"WrongLastDigit", "32,\\!348", "32349", kNotEqual},
    {"WrongBracedComma", "32{,}348", "32349", kNotEqual},
    {"WrongThinSpace", "32\\,348", "32349", kNotEqual},
    {"WrongSpaceGroup", "1 001", "1000", kNotEqual},
    {"CommaSpaceIsAList", "32, 349", "32349", kNotEqual},
    {"ThinSpaceIsNotConcatenation", "2\\,3", "23", kRejected},
    {"NegativeThinSpaceIsNotConcatenation", "1\\!2", "12", kRejected},
    {"BracedCommaShortGroupIsAList", "1{,}2", "12", kNotEqual},
    {"LongLeadingGroup", "1000\\,000", "1000000", kRejected},
    {"LongLaterGroup", "1 0000", "10000", kRejected},
    {"ShortLaterGroup", "10 00", "1000", kRejected},
    {"LeadingZeroGroup", "0 500", "500", kRejected},
    {"SpacedListOfDigitsIsNoNumber", "2 3", "23", kRejected},
    {"ImproperMixedNumberIsNotGrouped", "2 100/3", "700", kNotEqual},
    {"ExponentDigitsAreNotGrouped", "10^3\\,000", "10^{3000}", kRejected},
    {"ShortFractionGroup", "3.14\\,15", "3.1415", kRejected},
    {"GroupAfterFractionDigit", "1.5 000", "1.5", kRejected},
    {"GroupedIsNotAList", "1 000", "1, 000", kNotEqual},
    {"ListIsNotGrouped", "100, 200, 300", "100200300", kNotEqual},
    {"SpacedGroupsAgainstList", "100 200 300", "100, 200, 300", kNotEqual},
    {"ForgedThinMarker", "1\x01" "000", "1000", kRejected},
    {"ForgedCommaMarker", "1\x02" "000", "1000", kRejected},
};
R1_FORMS(GroupedNumbers, kGroupedNumbers);

// ---- base-n numerals ----
// Decision: a numeral in base b != 10 equals the same base and value only,
// never a decimal number, so echoing the question ("convert 54 to base 5",
// "convert 204_5 to base 10") earns nothing. Base 10 is an ordinary number.

const Case kBaseNumerals[] = {
    {"Same", "204_5", "204_5", kEqual},
    {"BracedBase", "204_{5}", "204_5", kEqual},
    {"ParenthesizedDigits", "(204)_5", "204_{5}", kEqual},
    {"ParenthesizedBraced", "(204)_{5}", "204_5", kEqual},
    {"SpacedBase", "204_{ 5 }", "204_5", kEqual},
    {"LeadingZero", "0204_5", "204_5", kEqual},
    {"Binary", "1011_2", "1011_{2}", kEqual},
    {"Hex", "1A_{16}", "(1A)_{16}", kEqual},
    {"HexLetterFirst", "A3_{16}", "A3_{16}", kEqual},
    {"HexLetterFirstBareBase", "A3_16", "A3_{16}", kEqual},
    {"HexLowerCase", "a3_{16}", "A3_{16}", kEqual},
    {"HexLowerCaseGold", "\\boxed{A3_{16}}", "a3_{16}", kEqual},
    {"HexParenthesizedLetterFirst", "(A3)_{16}", "A3_16", kEqual},
    {"HexLettersOnly", "FF_{16}", "(FF)_{16}", kEqual},
    {"LetterDigitBelowBase", "B2_{12}", "b2_{12}", kEqual},
    {"SubscriptedVariableLetterUntouched", "a_{16}", "a_{16}", kEqual},
    {"Boxed", "\\boxed{204_5}", "204_5", kEqual},
    {"Dollars", "$204_5$", "204_5", kEqual},
    {"BaseTenIsDecimal", "54_{10}", "54", kEqual},
    {"Assignment", "N = 204_5", "204_5", kEqual},
    {"ListOfNumerals", "204_5, 13_5", "13_5, 204_5", kEqual},
    {"LogBaseUntouched", "\\log_2 8", "3", kEqual},
    {"SubscriptedVariableUntouched", "a_{10}", "a_{10}", kEqual},
    // Wrong values, wrong bases, decimals.
    {"WrongDigit", "203_5", "204_5", kNotEqual},
    {"WrongBase", "204_6", "204_5", kNotEqual},
    {"NotItsDecimalValue", "204_5", "54", kNotEqual},
    {"DecimalIsNotTheNumeral", "54", "204_5", kNotEqual},
    {"DigitsWithoutBase", "204", "204_5", kNotEqual},
    {"NumeralIsNotItsDigits", "204_5", "204", kNotEqual},
    {"OtherBaseSameValue", "54_{10}", "204_5", kNotEqual},
    {"BinaryIsNotEleven", "1011_2", "11", kNotEqual},
    {"WrongBaseTen", "55_{10}", "54", kNotEqual},
    {"HexWrongDigit", "1B_{16}", "1A_{16}", kNotEqual},
    {"HexLetterFirstWrongDigit", "A4_{16}", "A3_{16}", kNotEqual},
    {"HexWrongLetter", "B3_{16}", "A3_{16}", kNotEqual},
    {"HexIsNotItsDecimalValue", "163", "A3_{16}", kNotEqual},
    {"HexDecimalValueIsNotHex", "A3_{16}", "163", kNotEqual},
    {"HexIsNotBaseTenValue", "163_{10}", "A3_{16}", kNotEqual},
    {"HexIsNotOctalSameValue", "243_{8}", "A3_{16}", kNotEqual},
    {"HexIsNotOctalSameDigits", "163_{8}", "A3_{16}", kNotEqual},
    {"HexLetterWrongBase", "A3_{12}", "A3_{16}", kNotEqual},
    {"HexLowerCaseWrongDigit", "a4_{16}", "A3_{16}", kNotEqual},
    {"LetterDigitTooLargeForBase", "B3_{11}", "B3_{11}", kRejected},
    {"LetterDigitTooLargeAnswer", "C3_{12}", "A3_{16}", kRejected},
    {"NotAHexDigit", "G3_{16}", "G3_{16}", kRejected},
    {"LetterVariableIsNotHex", "a_{16}", "A_{16}", kNotEqual},
    {"LetterVariableIsNotTen", "A_{16}", "10", kRejected},
    {"DigitTooLargeForBase", "208_5", "54", kRejected},
    {"DigitTooLargeGold", "204_5", "208_5", kRejected},
    {"HexDigitInBaseTen", "1A_{10}", "26", kRejected},
    {"BaseOne", "11_1", "2", kRejected},
    {"BaseTooLarge", "204_{50}", "204_{50}", kRejected},
    {"NoArithmeticOnNumerals", "204_5 + 1", "210_5", kRejected},
    {"NumeralIsNotTime", "12_5", "7", kNotEqual},
};
R1_FORMS(BaseNumerals, kBaseNumerals);

// ---- clock times ----
// Hours and minutes (and seconds) must match, and a time is never a number
// or a ratio. AM/PM reads as the 24-hour clock; an unmarked hour of 1-12
// could be either half of the day, so it equals only the same unmarked time.

const Case kClockTimes[] = {
    {"Same", "12:00", "12:00", kEqual},
    {"LeadingZeroHour", "9:30", "09:30", kEqual},
    {"PmIs24Hour", "9:30 PM", "21:30", kEqual},
    {"PmNoSpace", "9:30pm", "21:30", kEqual},
    {"PmDotted", "9:30 p.m.", "21:30", kEqual},
    {"PmInText", "9:30\\text{ PM}", "21:30", kEqual},
    {"WholeTimeInText", "\\text{9:30 PM}", "21:30", kEqual},
    {"AmSpellings", "9:30 a.m.", "09:30 AM", kEqual},
    {"MidnightAm", "12:05 AM", "0:05", kEqual},
    {"AfternoonPm", "1:00 PM", "13:00", kEqual},
    {"ZeroSeconds", "9:30:00", "9:30", kEqual},
    {"Seconds", "9:30:15", "09:30:15", kEqual},
    {"Boxed", "\\boxed{9:30}", "9:30", kEqual},
    {"ListOfTimes", "9:30, 10:45", "10:45, 9:30", kEqual},
    // Wrong times; times against numbers.
    {"WrongMinutes", "12:30", "12:00", kNotEqual},
    {"WrongHour", "11:00", "12:00", kNotEqual},
    {"OffByOneMinute", "9:31", "9:30", kNotEqual},
    {"TimeIsNotNumber", "12:00", "12", kNotEqual},
    {"NumberIsNotTime", "12", "12:00", kNotEqual},
    {"TimeIsNotDigits", "9:30", "930", kNotEqual},
    {"TimeIsNotRatio", "9:30", "\\frac{9}{30}", kNotEqual},
    {"PmIsNotMorning", "9:30 PM", "9:30", kNotEqual},
    {"AmIsNotEvening", "9:30 AM", "21:30", kNotEqual},
    {"UnmarkedIsNotAm", "9:30 AM", "9:30", kNotEqual},
    {"UnmarkedGoldIsNotPm", "9:30", "9:30 PM", kNotEqual},
    {"UnmarkedNoonIsNotPm", "12:00 PM", "12:00", kNotEqual},
    {"MidnightIsNotNoon", "12:00 AM", "12:00 PM", kNotEqual},
    {"UnmarkedIsNot24HourEvening", "9:30", "21:30", kNotEqual},
    {"PmInTextIsKept", "9:30\\text{ PM}", "9:30", kNotEqual},
    {"WrongSeconds", "9:30:15", "9:30", kNotEqual},
    {"NoSuchHour", "25:00", "1:00", kRejected},
    {"NoSuchMinute", "9:60", "10:00", kRejected},
    {"NoSuchPmHour", "13:00 PM", "13:00", kRejected},
    {"OneDigitMinutesIsNoTime", "3:4", "3:04", kRejected},
};
R1_FORMS(ClockTimes, kClockTimes);

// ---- multiple choice ----
// The letter (A-J) decides; option text after "(B)" or "B)" is ignored
// unless it names another choice. Letters stay case-sensitive: "b" != "B".

const Case kChoices[] = {
    {"Parenthesized", "(B)", "B", kEqual},
    {"GoldParenthesized", "B", "(B)", kEqual},
    {"ClosingParenthesis", "B)", "B", kEqual},
    {"InText", "\\text{(B)}", "B", kEqual},
    {"InBold", "\\textbf{(B)}", "(B)", kEqual},
    {"BoldWithText", "\\textbf{(B)} 42", "B", kEqual},
    {"WithOptionText", "(B) 42", "B", kEqual},
    {"ClosingWithOptionText", "B) 42", "(B)", kEqual},
    {"WithLatexOptionText", "(B) \\frac{1}{2}", "B", kEqual},
    {"WithWordOptionText", "(A) Monday", "A", kEqual},
    {"OptionWord", "Option B", "B", kEqual},
    {"OptionWordParenthesized", "option (B)", "B", kEqual},
    {"ChoiceWord", "Choice B", "(B)", kEqual},
    {"OptionWordWithText", "Option (B) 42", "B", kEqual},
    {"Boxed", "\\boxed{B}", "B", kEqual},
    {"BoxedText", "\\boxed{\\text{(C)}}", "\\text{C}", kEqual},
    {"LastLetter", "(J) 7", "J", kEqual},
    {"GoldWithOptionText", "B", "(B) 42", kEqual},
    {"LetterDecidesOverOptionText", "(B) 41", "(B) 42", kEqual},
    // Another letter, a hedge, or a value instead of the letter.
    {"OtherLetter", "(C)", "B", kNotEqual},
    {"OtherLetterClosing", "C)", "B", kNotEqual},
    {"OtherLetterWithGoldText", "(C) 42", "B", kNotEqual},
    {"OtherLetterOptionWord", "Option C", "B", kNotEqual},
    {"OtherLetterAgainstOptionText", "(A) 42", "(B) 42", kNotEqual},
    {"HedgeOr", "(B) or (C)", "B", kRejected},
    {"HedgeAnd", "(B) and (C)", "B", kRejected},
    {"HedgeComma", "(B), (C)", "B", kRejected},
    {"HedgeCommaBare", "B, C", "B", kNotEqual},
    {"HedgeWords", "B or C", "B", kNotEqual},
    {"HedgeInOptionText", "(B) 42 or C", "B", kRejected},
    {"HedgeClosing", "B) C)", "B", kRejected},
    {"HedgeLowerCaseChoice", "(B) or (c)", "B", kRejected},
    {"Product", "(B)(C)", "B", kNotEqual},
    {"LowerCaseLetter", "b", "B", kNotEqual},
    {"LowerCaseParenthesized", "(b)", "B", kNotEqual},
    {"ValueIsNotTheLetter", "42", "(B) 42", kNotEqual},
    {"LetterIsNotTheValue", "(B) 42", "42", kNotEqual},
    {"BeyondJIsAProduct", "(K) 5", "K", kNotEqual},
    {"MathAfterLetterPlus", "(A) + 1", "A", kNotEqual},
    {"MathAfterLetterRelation", "(A) = 5", "A", kNotEqual},
    {"MathAfterLetterInequality", "(A) \\le 2", "A", kRejected},
    {"MathAfterLetterTimes", "(A) \\cdot 2", "A", kNotEqual},
    {"HedgeOrValue", "(A) or 5", "A", kRejected},
    {"HedgeAndWord", "(A) and B", "A", kRejected},
};
R1_FORMS(Choices, kChoices);

// ---- decimal commas ----
// The verifier applies ReadDecimalComma to the normalized answer with the
// normalized gold (see latex_normalizer.h): these go through VerifyMathAnswer
// itself, so they fail if that hook is dropped.

MathVerdict VerifyWithDecimalComma(const char* answer, const char* gold) { return VerifyMathAnswer(answer, gold); }

const Case kDecimalCommas[] = {
    {"OneDigit", "3,5", "3.5", kEqual},
    {"TwoDigits", "1000,99", "1000.99", kEqual},
    {"TrailingZero", "3,50", "3.5", kEqual},
    {"LeadingZero", "0,111", "0.111", kEqual},
    {"ManyDigits", "3,14159", "3.14159", kEqual},
    {"Negative", "-2,75", "-2.75", kEqual},
    {"LongIntegerPart", "1000,999", "1000.999", kEqual},
    {"Boxed", "\\boxed{3,5}", "3.5", kEqual},
    {"ListStaysList", "3,5", "3, 5", kEqual},
    {"ListAgainstSet", "3,5", "\\{5, 3\\}", kEqual},
    {"ThousandsStayThousands", "1,234", "1234", kEqual},
    // A gold's comma is never read as a decimal point: "-2,1" is two roots.
    {"GoldIsNeverReread", "1.22", "1,22", kNotEqual},
    {"GoldRootsAreNotADecimal", "-2.1", "-2,1", kNotEqual},
    {"BothCommasStayLists", "1,22", "1,22", kEqual},
    // Wrong values; golds that are not one decimal literal.
    {"WrongDecimal", "3,6", "3.5", kNotEqual},
    {"ThousandsIsNotDecimal", "1,234", "1.234", kNotEqual},
    {"NotConcatenation", "3,5", "35", kNotEqual},
    {"IntegerGold", "3,0", "3", kNotEqual},
    {"FractionGoldKeepsTheList", "3,5", "\\frac{7}{2}", kNotEqual},
    {"GoldWrongDecimal", "1.23", "1,22", kNotEqual},
    {"GoldDigitsSwapped", "2.21", "1,22", kNotEqual},
    {"GoldLeadingZeroWrong", "0.11", "0,111", kNotEqual},
    {"GoldNegativeSignMatters", "2.75", "-2,75", kNotEqual},
    {"GoldThousandsIsNotDecimal", "1.234", "1,234", kNotEqual},
    {"GoldGroupedThousandsIsNotDecimal", "32.349", "32,\\!349", kNotEqual},
    {"GoldGroupedBracedIsNotDecimal", "32.349", "32{,}349", kNotEqual},
    {"GoldThousandsMillionsIsNotDecimal", "1.000", "1,000", kNotEqual},
    {"GoldCommaIsListAgainstInteger", "122", "1,22", kNotEqual},
    {"GoldCommaIsListAgainstFraction", "\\frac{61}{50}", "1,22", kNotEqual},
    {"GoldCommaListAgainstList", "1.22, 1", "1,22", kNotEqual},
    {"GoldThreeNumbers", "3.5", "3,5,7", kNotEqual},
    {"GoldSpacedCommaIsAList", "3.5", "3, 5", kNotEqual},
    {"ThreeNumbers", "3,5,7", "3.5", kNotEqual},
    {"SpacedCommaIsAList", "3, 5", "3.5", kNotEqual},
    {"DecimalCommaIsNotItsList", "3,5", "3.5, 1", kNotEqual},
};

class DecimalCommas : public ::testing::TestWithParam<Case> {};

TEST_P(DecimalCommas, VerdictWithTheHook) {
  const Case& c = GetParam();
  Check(c, VerifyWithDecimalComma(c.answer, c.gold));
}

INSTANTIATE_TEST_SUITE_P(DecimalCommas, DecimalCommas, ::testing::ValuesIn(kDecimalCommas),
                         CaseName);

TEST(ReadDecimalComma, OnlyOneNumberAgainstADecimalGold) {
  EXPECT_EQ(ReadDecimalComma("3,5", "3.5"), "3.5");
  EXPECT_EQ(ReadDecimalComma("-0,25", "-0.25"), "-0.25");
  EXPECT_EQ(ReadDecimalComma("0,125", "0.125"), "0.125");  // leading zero: no thousands
  EXPECT_EQ(ReadDecimalComma("1234,5", "1234.5"), "1234.5");
  EXPECT_EQ(ReadDecimalComma("1,234", "1.234"), "1,234");  // a thousands comma
  EXPECT_EQ(ReadDecimalComma("3,5", "35"), "3,5");
  EXPECT_EQ(ReadDecimalComma("3,5", "3."), "3,5");
  EXPECT_EQ(ReadDecimalComma("3,5", ".5"), "3.5");  // then 3.5 != 0.5
  EXPECT_EQ(ReadDecimalComma("3,5", "3.5, 1"), "3,5");
  EXPECT_EQ(ReadDecimalComma("3,5,7", "3.5"), "3,5,7");
  EXPECT_EQ(ReadDecimalComma("3, 5", "3.5"), "3, 5");
  EXPECT_EQ(ReadDecimalComma(",5", "0.5"), ",5");
  EXPECT_EQ(ReadDecimalComma("3,", "3.0"), "3,");
  EXPECT_EQ(ReadDecimalComma("x,5", "3.5"), "x,5");
  EXPECT_EQ(ReadDecimalComma("", "3.5"), "");
  EXPECT_EQ(ReadDecimalComma("3,5", ""), "3,5");
}

// ---- the normalized text ----

TEST(NormalizeAnswerForms, MarkersNeverLeak) {
  for (const char* text : {"1\\,2", "1{,}2", "1,\\!2", "x\\,1", "1\\,x", "1 \\, 000",
                           "10^3\\,000", "1\\,\\!000", "0{,}5", "1.5{,}000"}) {
    const std::string normalized = NormalizeAnswer(text);
    EXPECT_EQ(normalized.find('\x01'), std::string::npos) << text;
    EXPECT_EQ(normalized.find('\x02'), std::string::npos) << text;
  }
  EXPECT_EQ(NormalizeAnswer("1\\,2"), "1 2");
  EXPECT_EQ(NormalizeAnswer("1{,}2"), "1,2");
  EXPECT_EQ(NormalizeAnswer("0{,}5"), "0,5");  // a decimal comma, for ReadDecimalComma
  EXPECT_EQ(NormalizeAnswer("1 \\, 000"), "1000");
  EXPECT_EQ(NormalizeAnswer("x\\,y"), "xy");  // outside numbers \, is dropped, as before
}

TEST(NormalizeAnswerForms, OpaqueWordsForTimesAndNumerals) {
  // Letters only, so the verifier compares them as words; no digits survive.
  EXPECT_EQ(NormalizeAnswer("9:30"), NormalizeAnswer("09:30:00"));
  EXPECT_NE(NormalizeAnswer("9:30"), NormalizeAnswer("9:03"));
  EXPECT_EQ(NormalizeAnswer("204_5"), NormalizeAnswer("(0204)_{5}"));
  EXPECT_NE(NormalizeAnswer("204_5"), NormalizeAnswer("204_6"));
  EXPECT_NE(NormalizeAnswer("11_2"), NormalizeAnswer("3_{10}"));
  for (const char* text :
       {"9:30", "23:59:59 ", "12:00 AM", "204_5", "FF_{16}", "1F_{16}", "A3_{16}", "a3_16"}) {
    for (char c : NormalizeAnswer(text)) EXPECT_FALSE(c >= '0' && c <= '9') << text;
  }
  EXPECT_EQ(NormalizeAnswer("A3_{16}"), NormalizeAnswer("a3_16"));
  EXPECT_NE(NormalizeAnswer("A3_{16}"), NormalizeAnswer("A3_{15}"));
  EXPECT_EQ(NormalizeAnswer("a_{16}"), "a_{16}");  // a subscripted variable
  EXPECT_EQ(NormalizeAnswer("ab_{16}"), "ab_{16}");
}

// ---- untrusted input: every pass is linear and non-recursive ----

MathVerifyOptions Huge() {
  MathVerifyOptions options;
  options.max_answer_bytes = 8 << 20;
  return options;
}

std::string Repeat(const std::string& unit, size_t bytes) {
  std::string s;
  s.reserve(bytes + unit.size());
  while (s.size() < bytes) s += unit;
  return s;
}

TEST(AnswerFormsAdversarial, MegabytesOfEachForm) {
  constexpr size_t kBytes = 4 << 20;
  // Grouped numbers: one number of a million groups, and long runs of marks.
  EXPECT_FALSE(VerifyMathAnswer("1" + Repeat("\\,000", kBytes), "1", Huge()).correct);
  EXPECT_FALSE(VerifyMathAnswer("1" + Repeat(" 000", kBytes), "1", Huge()).correct);
  EXPECT_FALSE(VerifyMathAnswer(Repeat("1\\,", kBytes), "1", Huge()).correct);
  EXPECT_FALSE(VerifyMathAnswer(Repeat("1{,}", kBytes), "1", Huge()).correct);
  EXPECT_FALSE(VerifyMathAnswer(Repeat("{ , }", kBytes), "1", Huge()).correct);
  EXPECT_FALSE(VerifyMathAnswer("0." + Repeat("123\\,", kBytes) + "1", "1", Huge()).correct);
  EXPECT_FALSE(VerifyMathAnswer(std::string(kBytes, '9'), "1", Huge()).correct);
  // Times and numerals: many candidates, long digit runs, long parentheses.
  EXPECT_FALSE(VerifyMathAnswer(Repeat("1:", kBytes), "1", Huge()).correct);
  EXPECT_FALSE(VerifyMathAnswer(Repeat("12:00 ", kBytes), "12:00", Huge()).correct);
  EXPECT_FALSE(VerifyMathAnswer(Repeat("(1", kBytes), "1", Huge()).correct);
  EXPECT_FALSE(VerifyMathAnswer("(" + std::string(kBytes, '1') + ")_2", "1", Huge()).correct);
  EXPECT_FALSE(VerifyMathAnswer(Repeat("1_", kBytes), "1", Huge()).correct);
  EXPECT_FALSE(VerifyMathAnswer(Repeat("1_2 ", kBytes), "1_2", Huge()).correct);
  // Choices: a long option text, and one full of other letters.
  EXPECT_EQ(VerifyMathAnswer("(B) " + Repeat("x", kBytes), "B", Huge()).reason, "equal");
  EXPECT_FALSE(VerifyMathAnswer("(B) " + Repeat("(C) ", kBytes), "B", Huge()).correct);
  EXPECT_FALSE(VerifyMathAnswer(Repeat("Option ", kBytes), "B", Huge()).correct);
}

TEST(AnswerFormsAdversarial, NormalizerIsLinearOnGroupedNumbers) {
  // A group check that rescanned from every digit would be quadratic here.
  const std::string text = Repeat("1 ", 4 << 20);
  const std::string normalized = NormalizeAnswer(text);
  EXPECT_EQ(normalized.size(), text.size() - 1);  // unchanged but the last space
}

}  // namespace
}  // namespace r1::reward
