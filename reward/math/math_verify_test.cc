#include "reward/math/math_verify.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace r1::reward {
namespace {

using ::testing::AnyOf;

// One equivalence case: `equal` says whether the verdict must be "equal" or
// "not_equal" (a parse failure on either side fails the test too).
struct Case {
  const char* name;
  const char* answer;
  const char* gold;
  bool equal;
};

class Equivalence : public ::testing::TestWithParam<Case> {};

TEST_P(Equivalence, Verdict) {
  const Case& c = GetParam();
  const MathVerdict v = VerifyMathAnswer(c.answer, c.gold);
  EXPECT_EQ(v.correct, c.equal) << "answer: " << c.answer << "  gold: " << c.gold
                                << "  reason: " << v.reason;
  EXPECT_EQ(v.reason, c.equal ? "equal" : "not_equal")
      << "answer: " << c.answer << "  gold: " << c.gold;
}

std::string CaseName(const ::testing::TestParamInfo<Case>& info) { return info.param.name; }

#define R1_CASES(suite, table) \
  INSTANTIATE_TEST_SUITE_P(suite, Equivalence, ::testing::ValuesIn(table), CaseName)

const Case kIntegers[] = {
    {"Same", "5", "5", true},
    {"Negative", "-5", "-5", true},
    {"ExplicitPlus", "+5", "5", true},
    {"UnicodeMinus", "\u22125", "-5", true},
    {"ThousandsComma", "1,234", "1234", true},
    {"ThousandsCommaTwoGroups", "1,234,567", "1234567", true},
    {"ThousandsLatexBraces", "1{,}234", "1234", true},
    {"ThousandsThinSpace", "1\\,234", "1234", true},
    {"DollarDelimiters", "$42$", "42", true},
    {"ParenDelimiters", "\\(42\\)", "42", true},
    {"BracketDelimiters", "\\[42\\]", "42", true},
    {"LeadingZero", "042", "42", true},
    {"BigIntegerLiteral", "100000000000000000000", "10^{20}", true},
    {"WrongValue", "5", "6", false},
    {"WrongSign", "-5", "5", false},
    {"ThousandsOffByOne", "1,234", "1,235", false},
    {"DigitDropped", "1234", "123", false},
    {"CommaListIsNotThousands", "12", "1, 2", false},
    {"SpacedCommaIsAList", "1, 234", "1234", false},
    {"BigIntegerOffByOne", "100000000000000000001", "10^{20}", false},
    {"TenToTwentyPlusOne", "10^{20}+1", "10^{20}", false},
    {"TwoToSixtyFour", "2^{64}", "18446744073709551616", true},
    {"TwoToSixtyFourMinusOne", "2^{64}", "18446744073709551615", false},
    {"TenToThirtyPlusOne", "10^{30}", "10^{30}+1", false},
};
R1_CASES(Integers, kIntegers);

const Case kDecimals[] = {
    {"HalfAsFraction", "0.5", "1/2", true},
    {"NoLeadingZero", ".5", "\\frac{1}{2}", true},
    {"TrailingZero", "2.50", "2.5", true},
    {"IntegerWithPointZero", "3.0", "3", true},
    {"Eighth", "0.125", "\\frac18", true},
    {"NegativeDecimal", "-0.75", "-\\frac{3}{4}", true},
    {"ScientificE", "1.5e3", "1500", true},
    {"ScientificTimes", "1.5\\times10^{3}", "1500", true},
    {"ScientificCdot", "1.5 \\cdot 10^3", "1500", true},
    {"ScientificNegativeExponent", "2.5E-2", "0.025", true},
    {"TrailingPeriod", "7.", "7", true},
    {"RepeatingDecimal", "0.\\overline{3}", "\\frac{1}{3}", true},
    {"RepeatingAfterDigits", "0.1\\overline{6}", "1/6", true},
    {"RepeatingBlock", "0.\\overline{142857}", "1/7", true},
    {"WrongDecimal", "0.5", "0.55", false},
    {"RepeatingIsNotTerminating", "0.\\overline{3}", "0.3", false},
    {"RoundedThirdAtSixDigits", "0.333333", "\\frac{1}{3}", true},
    {"WrongExponent", "1.5e3", "150", false},
    {"TenTimesTooSmall", "0.1", "1", false},
    {"MisplacedPoint", "2.5", "25", false},
};
R1_CASES(Decimals, kDecimals);

const Case kFractions[] = {
    {"FracVsSlash", "\\frac{1}{2}", "1/2", true},
    {"Dfrac", "\\dfrac{3}{4}", "0.75", true},
    {"Tfrac", "\\tfrac{3}{4}", "3/4", true},
    {"FracWithoutBraces", "\\frac12", "0.5", true},
    {"Unreduced", "\\frac{6}{8}", "\\frac{3}{4}", true},
    {"MinusOutsideVsInside", "-\\frac{1}{2}", "\\frac{-1}{2}", true},
    {"MinusInDenominator", "\\frac{1}{-2}", "-0.5", true},
    {"MixedNumberPlain", "2 1/2", "5/2", true},
    {"MixedNumberLatex", "2\\frac{1}{2}", "\\frac{5}{2}", true},
    {"NegativeMixedNumber", "-2\\frac{1}{2}", "-2.5", true},
    {"NestedFrac", "\\frac{\\frac{1}{2}}{3}", "1/6", true},
    {"SlashOfVariables", "a/b", "\\frac{a}{b}", true},
    {"Inverted", "\\frac{1}{2}", "\\frac{2}{1}", false},
    {"ThirdVsThree", "1/3", "3", false},
    {"SignMatters", "\\frac{1}{2}", "-\\frac{1}{2}", false},
    {"MixedIsNotAProduct", "2\\frac{1}{2}", "1", false},
    {"MixedPlainIsNotWhole", "2 1/2", "2", false},
    {"SwappedVariables", "a/b", "b/a", false},
};
R1_CASES(Fractions, kFractions);

const Case kPercentages[] = {
    {"PercentIsFraction", "50%", "0.5", true},
    {"LatexPercentIsNumber", "50\\%", "50", true},
    {"PercentIsNumber", "50%", "50", true},
    {"PercentVsFraction", "12.5\\%", "\\frac{1}{8}", true},
    {"PercentWord", "50 percent", "50%", true},
    {"GoldPercent", "0.25", "25\\%", true},
    {"WrongPercent", "50%", "5", false},
    {"PercentOfPercent", "50%", "0.05", false},
    {"WrongFractionForPercent", "0.4", "50\\%", false},
};
R1_CASES(Percentages, kPercentages);

const Case kRoots[] = {
    {"SqrtTwoNumeric", "\\sqrt{2}", "1.41421356", true},
    {"TwoRootTwoIsRootEight", "2\\sqrt{2}", "\\sqrt{8}", true},
    {"CubeRoot", "\\sqrt[3]{8}", "2", true},
    {"PerfectSquare", "\\sqrt{4}", "2", true},
    {"RationalizedDenominator", "\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}", true},
    {"UnicodeRoot", "\u221a16", "4", true},
    {"SqrtWithoutBraces", "\\sqrt2", "sqrt(2)", true},
    {"SimplifiedRoot", "\\sqrt{12}", "2\\sqrt3", true},
    {"FractionalPower", "8^{1/3}", "2", true},
    {"DecimalPower", "4^{0.5}", "2", true},
    {"RootTooCoarse", "\\sqrt{2}", "1.41", false},
    {"WrongCoefficient", "\\sqrt{8}", "3\\sqrt{2}", false},
    {"CubeVsSquareRoot", "\\sqrt[3]{8}", "\\sqrt{8}", false},
    {"RootVsRadicand", "\\sqrt{2}", "2", false},
};
R1_CASES(Roots, kRoots);

const Case kConstants[] = {
    {"PiToEightPlaces", "\\pi", "3.14159265", true},
    {"TwoPi", "2\\pi", "6.283185307", true},
    {"PiOverTwo", "\\frac{\\pi}{2}", "\\pi/2", true},
    {"UnicodePi", "\u03c0", "\\pi", true},
    {"PlainPi", "2pi", "2\\pi", true},
    {"EulerNumber", "e", "2.718281828", true},
    {"Infinity", "\\infty", "\u221e", true},
    {"NegativeInfinity", "-\\infty", "-\\infty", true},
    {"PiTwoPlacesIsTooCoarse", "3.14", "\\pi", false},
    {"PiVsTwoPi", "\\pi", "2\\pi", false},
    {"InfinitySigns", "\\infty", "-\\infty", false},
    {"InfinityVsHuge", "\\infty", "10^{100}", false},
    {"TwentyTwoSevenths", "22/7", "\\pi", false},
};
R1_CASES(Constants, kConstants);

const Case kLatexFormatting[] = {
    {"LeftRight", "\\left( 3 \\right)", "3", true},
    {"Displaystyle", "\\displaystyle\\frac{1}{2}", "0.5", true},
    {"InlineMath", "$\\frac{1}{2}$", "1/2", true},
    {"DisplayMath", "$$7$$", "7", true},
    {"NegativeThinSpace", "\\! 5", "5", true},
    {"ThickSpace", "5\\;", "5", true},
    {"Quad", "\\quad 7", "7", true},
    {"Tilde", "~7", "7", true},
    {"BoxedGold", "7", "\\boxed{7}", true},
    {"Mathbf", "\\mathbf{7}", "7", true},
    {"LeftRightBrackets", "\\left[ 2 \\right]", "2", true},
    {"WrongInsideDelimiters", "\\left( 3 \\right)", "4", false},
    {"WrongInsideDollars", "$\\frac{1}{3}$", "1/2", false},
};
R1_CASES(LatexFormatting, kLatexFormatting);

const Case kUnitsAndText[] = {
    {"TextUnit", "5 \\text{ cm}", "5", true},
    {"PlainUnit", "5 cm", "5", true},
    {"UnitWithoutSpace", "5cm", "5", true},
    {"EscapedDollar", "\\$5", "5", true},
    {"DollarsWord", "5 dollars", "5", true},
    {"SquaredUnit", "5\\mbox{ cm}^2", "5", true},
    {"TextNumber", "\\text{5}", "5", true},
    {"SquareFeet", "12 square feet", "12", true},
    {"CountNoun", "5 apples", "5", true},
    {"DollarsWithThousands", "\\$1,000", "1000", true},
    {"DegreesCirc", "90^\\circ", "90", true},
    {"DegreesUnicode", "90\u00b0", "90", true},
    {"DegreesBraced", "90^{\\circ}", "90", true},
    {"DegreesWord", "90 degrees", "90", true},
    {"SingleLetterTextUnit", "5\\text{ m}", "5", true},
    {"ThinSpaceTextUnit", "5 \\, \\text{m/s}", "5", true},
    {"NumberInsideText", "\\text{5 cm}", "5", true},
    {"WrongQuantityWithUnit", "5 cm", "6", false},
    {"BareLetterIsAVariable", "5m", "5", false},
    {"WrongAngle", "90^\\circ", "45", false},
    {"WrongMoney", "\\$5", "50", false},
};
R1_CASES(UnitsAndText, kUnitsAndText);

const Case kEquations[] = {
    {"AssignmentVsValue", "x = 5", "5", true},
    {"ValueVsAssignment", "5", "x=5", true},
    {"SpacingInAssignment", "x=5", "x = 5", true},
    {"ReversedAssignment", "5 = x", "x = 5", true},
    {"LineReordered", "y = 2x+1", "y = 1+2x", true},
    {"LineRearranged", "y = 2x + 1", "2x - y + 1 = 0", true},
    {"SwappedSides", "2x + 1 = y", "y = 2x + 1", true},
    {"FractionAssignment", "k = \\frac{1}{2}", "0.5", true},
    {"SubscriptedVariable", "x_1 = 3", "3", true},
    {"InequalityMirrored", "2 < x", "x > 2", true},
    {"InequalityLatex", "x \\geq 3", "x \\ge 3", true},
    {"TupleAssignment", "(x, y) = (1, 2)", "(1, 2)", true},
    {"WrongAssignedValue", "x = 5", "6", false},
    {"TupleAssignmentOrder", "(x, y) = (2, 1)", "(1, 2)", false},
    {"DifferentVariable", "x = 5", "y = 5", false},
    {"WrongIntercept", "y = 2x+1", "y = 2x-1", false},
    {"WrongPower", "y = x^2", "y = x", false},
    {"SquareVsRoot", "x^2 = 1", "x = 1", false},
    {"InequalityDirection", "x < 2", "x > 2", false},
    {"StrictVsNonStrict", "x < 2", "x \\le 2", false},
};
R1_CASES(Equations, kEquations);

const Case kMultipleAnswers[] = {
    {"CommaListUnordered", "1, 2", "2, 1", true},
    {"AndList", "1 and 2", "2, 1", true},
    {"OrOfAssignments", "x = 1 or x = 2", "1, 2", true},
    {"ReversedAssignments", "x = 2, x = 1", "1,2", true},
    {"PlusMinus", "\\pm 2", "2, -2", true},
    {"PlusMinusRoot", "x = \\pm\\sqrt{2}", "-\\sqrt{2}, \\sqrt{2}", true},
    {"Semicolons", "1;2", "1,2", true},
    {"SetVsList", "\\{1, 2\\}", "1, 2", true},
    {"DuplicatesCollapse", "3, 3, 1", "1, 3", true},
    {"TextOr", "1 \\text{ or } 2", "2, 1", true},
    {"OneWrongElement", "1, 2", "1, 3", false},
    {"ExtraElement", "1, 2", "1", false},
    {"MissingElement", "1", "1, 2", false},
    {"MissingSolution", "x = 1 or x = 2", "1, 2, 3", false},
    {"PlusMinusIsTwoAnswers", "\\pm 2", "2", false},
};
R1_CASES(MultipleAnswers, kMultipleAnswers);

const Case kTuples[] = {
    {"Same", "(1, 2)", "(1,2)", true},
    {"LeftRight", "\\left(1, 2\\right)", "(1, 2)", true},
    {"EquivalentEntries", "(\\frac12, 3)", "(0.5, 3)", true},
    {"Triple", "(1, 2, 3)", "(1,2,3)", true},
    {"Nested", "((1, 2), (3, 4))", "((1,2),(3,4))", true},
    {"Order", "(1, 2)", "(2, 1)", false},
    {"Length", "(1, 2)", "(1, 2, 3)", false},
    {"BracketKind", "(1, 2)", "[1, 2]", false},
    {"TupleVsSet", "(1,2)", "\\{1,2\\}", false},
    {"NestedOrder", "((1, 2), (3, 4))", "((3,4),(1,2))", false},
};
R1_CASES(Tuples, kTuples);

const Case kIntervals[] = {
    {"HalfOpen", "(1, 2]", "(1,2]", true},
    {"ToInfinity", "[0,\\infty)", "[0, \\infty)", true},
    {"MembershipForm", "x \\in [0, 1]", "[0,1]", true},
    {"UnionUnordered", "(-\\infty, 0) \\cup (1, \\infty)", "(1,\\infty) \\cup (-\\infty, 0)", true},
    {"LeftRightHalfOpen", "\\left[ 0, \\frac{1}{2} \\right)", "[0, 0.5)", true},
    {"UnicodeUnion", "(-\u221e, 0) \u222a (1, \u221e)", "(-\\infty,0)\\cup(1,\\infty)", true},
    {"OpenVsHalfOpen", "(1, 2]", "(1, 2)", false},
    {"ClosedVsHalfOpen", "[1, 2]", "(1, 2]", false},
    {"ClosedVsOpenAtZero", "[0,\\infty)", "(0,\\infty)", false},
    {"UnionWrongPiece", "(-\\infty, 0) \\cup (1, \\infty)", "(-\\infty, 0) \\cup (2, \\infty)", false},
    {"WrongEndpoint", "[0, 1]", "[0, 2]", false},
};
R1_CASES(Intervals, kIntervals);

const Case kSets[] = {
    {"Unordered", "\\{1, 2\\}", "\\{2,1\\}", true},
    {"UnorderedTriple", "\\{1,2,3\\}", "\\{3,2,1\\}", true},
    {"EmptySetNames", "\\emptyset", "\\varnothing", true},
    {"EmptyBraces", "\\{\\}", "\\emptyset", true},
    {"Lbrace", "\\lbrace 1, 2\\rbrace", "\\{1,2\\}", true},
    {"LeftRightBraces", "\\left\\{ \\frac{1}{2}, 3 \\right\\}", "\\{3, 0.5\\}", true},
    {"WrongElement", "\\{1, 2\\}", "\\{1, 3\\}", false},
    {"Subset", "\\{1, 2\\}", "\\{1\\}", false},
    {"EmptyVsZero", "\\emptyset", "\\{0\\}", false},
    {"SingletonIsNotNumber", "\\{5\\}", "5", false},
};
R1_CASES(Sets, kSets);

const Case kAlgebra[] = {
    {"Commuted", "2x+1", "1+2x", true},
    {"DifferenceOfSquares", "x^2-1", "(x-1)(x+1)", true},
    {"HalfX", "\\frac{x}{2}", "0.5x", true},
    {"ImplicitProductOrder", "2xy", "2yx", true},
    {"DoubleStarPower", "x**2", "x^2", true},
    {"Cdot", "2 \\cdot x", "2x", true},
    {"Times", "3\\times x", "3x", true},
    {"ExpandedSquare", "(x+1)^2", "x^2+2x+1", true},
    {"NegativeExponent", "\\frac{1}{x}", "x^{-1}", true},
    {"TwoVariables", "a^2 - b^2", "(a-b)(a+b)", true},
    {"PythagoreanIdentity", "\\sin^2 x + \\cos^2 x", "1", true},
    {"LnOfExp", "\\ln(e^x)", "x", true},
    {"ExpOfLn", "e^{\\ln 2}", "2", true},
    {"LogBase", "\\log_2 8", "3", true},
    {"ExpOfZero", "\\exp(0)", "1", true},
    {"DoubleAngle", "2\\sin(x)\\cos(x)", "\\sin(2x)", true},
    {"RootOfSquareIsAbs", "\\sqrt{x^2}", "|x|", true},
    {"GreekVariables", "\\alpha + \\beta", "\\beta + \\alpha", true},
    {"SubscriptVariables", "x_1 + x_2", "x_{2} + x_{1}", true},
    {"RemovableSingularity", "\\frac{x^2-1}{x-1}", "x+1", true},
    {"TanIsSinOverCos", "\\tan x", "\\frac{\\sin x}{\\cos x}", true},
    {"InverseSine", "\\sin^{-1}(1)", "\\frac{\\pi}{2}", true},
    {"DomainFarFromZero", "\\sqrt{x-50}", "\\sqrt{x - 50}", true},
    {"DomainFarFromZeroWrong", "\\sqrt{x-50}", "\\sqrt{x - 49}", false},
    {"PlainFunctionNames", "sqrt(x)*sqrt(x)", "x", true},
    {"WrongConstant", "2x+1", "2x-1", false},
    {"SquareVsDifference", "x^2-1", "(x-1)^2", false},
    {"HalfVsDouble", "\\frac{x}{2}", "2x", false},
    {"DifferentVariables", "x", "y", false},
    {"RootOfSquareIsNotX", "\\sqrt{x^2}", "x", false},
    {"DifferentPowers", "x^2", "x^3", false},
    {"SinVsCos", "\\sin x", "\\cos x", false},
    {"ExponentialVsPower", "2^x", "x^2", false},
    {"NaturalVsDecimalLog", "\\ln(x)", "\\log_{10}(x)", false},
    {"CaseSensitiveVariables", "X", "x", false},
};
R1_CASES(Algebra, kAlgebra);

const Case kFactorials[] = {
    {"Factorial", "5!", "120", true},
    {"Binomial", "\\binom{5}{2}", "10", true},
    {"Dbinom", "\\dbinom{6}{3}", "20", true},
    {"FactorialRatio", "\\frac{10!}{8!}", "90", true},
    {"BigFactorialExact", "25!", "15511210043330985984000000", true},
    {"FactorialIsNotIdentity", "5!", "5", false},
    {"WrongBinomial", "\\binom{5}{2}", "20", false},
    {"BigFactorialOffByOne", "25!", "15511210043330985984000001", false},
};
R1_CASES(Factorials, kFactorials);

const Case kWords[] = {
    {"CaseInsensitive", "Yes", "yes", true},
    {"TextWrapped", "\\text{No}", "no", true},
    {"Phrase", "no solution", "No Solution", true},
    {"TrailingPeriod", "YES.", "yes", true},
    {"ChoiceInParentheses", "\\text{(A)}", "A", true},
    {"Weekday", "Monday", "monday", true},
    {"YesVsNo", "Yes", "No", false},
    {"OddVsEven", "odd", "even", false},
    {"ChoiceLetters", "A", "B", false},
    {"WordVsNumber", "yes", "5", false},
    {"Anagram", "Monday", "Mondya", false},
    {"DifferentWeekdays", "Monday", "Tuesday", false},
};
R1_CASES(Words, kWords);

// The documented policy decisions of math_verify.h, one case each.
const Case kDecisions[] = {
    {"AssignmentsAreNotATuple", "x = 1, y = 2", "(1, 2)", false},
    {"ListIsNotATuple", "1, 2", "(1, 2)", false},
    {"UnionIsPiecewise", "\\{1, 2\\} \\cup \\{3\\}", "\\{1, 2, 3\\}", false},
    {"CommaInBracketsSeparates", "(1,234)", "(1, 234)", true},
    {"PairIsNotThousands", "(1,234)", "1234", false},
    {"BarePowerTakesWholeNumber", "x^23", "x^{23}", true},
    {"LatexRootTakesOneCharacter", "\\sqrt16", "6", true},
    {"DegreesAreNotRadians", "90^\\circ", "\\frac{\\pi}{2}", false},
    {"TrigOfDegreesIsRadians", "\\sin 30^\\circ", "0.5", false},
    {"LogIsNatural", "\\log 100", "\\ln 100", true},
    {"LogIsNotDecimal", "\\log 100", "2", false},
    {"LetterAnswersAreWords", "xy", "yx", false},
    {"BeyondRationalsIsNumeric", "10^{40}", "10^{40}+1", true},
    {"UndefinedEqualsNothing", "\\sqrt{-1}", "\\sqrt{-1}", false},
    {"ProportionalEquations", "2x = 10", "x = 5", true},
    {"TerminatingDecimalsIgnoreRounding", "0.123457", "0.1234567", false},
    {"MatrixStylesAreOneMatrix", "\\begin{bmatrix}1\\\\2\\end{bmatrix}",
     "\\begin{pmatrix}1\\\\2\\end{pmatrix}", true},
    {"ColumnVectorIsNotATuple", "\\begin{pmatrix}1\\\\2\\end{pmatrix}", "(1, 2)", false},
    {"LabelledListIsNotATuple", "AB = 4, CD = 5", "(4, 5)", false},
    {"ConditionIsNotALabel", "x^2 = 4", "4", false},
};
R1_CASES(Decisions, kDecisions);

// Matrices compare cell by cell (each cell with the full equivalence) and
// must have the same shape; the environment and bracket style do not matter.
const Case kMatrices[] = {
    {"Same", "\\begin{pmatrix}1 & 2\\\\ 3 & 4\\end{pmatrix}",
     "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", true},
    {"BmatrixVsPmatrix", "\\begin{bmatrix}1 & 2\\\\ 3 & 4\\end{bmatrix}",
     "\\begin{pmatrix}1 & 2\\\\ 3 & 4\\end{pmatrix}", true},
    {"PlainMatrix", "\\left(\\begin{matrix}1 & 2\\\\ 3 & 4\\end{matrix}\\right)",
     "\\begin{pmatrix}1 & 2\\\\ 3 & 4\\end{pmatrix}", true},
    {"ArrayInLeftRight", "\\left( \\begin{array}{cc} 1 & 2 \\\\ 3 & 4 \\end{array} \\right)",
     "\\begin{pmatrix}1 & 2\\\\ 3 & 4\\end{pmatrix}", true},
    {"ArrayInBrackets", "\\left[\\begin{array}{rr}1 & 2\\\\ 3 & 4\\end{array}\\right]",
     "\\begin{bmatrix}1 & 2\\\\ 3 & 4\\end{bmatrix}", true},
    {"BareArray", "\\begin{array}{cc}1 & 2\\\\ 3 & 4\\end{array}",
     "\\begin{pmatrix}1 & 2\\\\ 3 & 4\\end{pmatrix}", true},
    {"ArrayRulesAndSpacing",
     "\\begin{array}{|c|c|}\\hline 1 & 2 \\\\[2pt] \\hline 3 & 4 \\\\ \\hline\\end{array}",
     "\\begin{pmatrix}1 & 2\\\\ 3 & 4\\end{pmatrix}", true},
    {"ColumnVector", "\\begin{pmatrix} -\\frac{1}{3} \\\\ \\frac{2}{3} \\end{pmatrix}",
     "\\left(\\begin{array}{c}-1/3\\\\2/3\\end{array}\\right)", true},
    {"Smallmatrix", "\\left(\\begin{smallmatrix}1 & 0\\\\ 0 & 1\\end{smallmatrix}\\right)",
     "\\begin{pmatrix}1 & 0\\\\ 0 & 1\\end{pmatrix}", true},
    {"EquivalentCells", "\\begin{pmatrix}\\frac12 & \\sqrt{4} & 2\\pi\\end{pmatrix}",
     "\\begin{pmatrix}0.5 & 2 & \\pi + \\pi\\end{pmatrix}", true},
    {"SymbolicCells", "\\begin{pmatrix}\\cos t & -\\sin t\\\\ \\sin t & \\cos t\\end{pmatrix}",
     "\\begin{pmatrix}\\cos(t) & -\\sin(t)\\\\ \\sin(t) & \\cos(t)\\end{pmatrix}", true},
    {"RoundedCell", "\\begin{pmatrix}0.333333 & 1\\end{pmatrix}",
     "\\begin{pmatrix}\\frac13 & 1\\end{pmatrix}", true},
    {"TrailingRowBreak", "\\begin{pmatrix}1\\\\ 2\\\\ \\end{pmatrix}",
     "\\begin{pmatrix}1\\\\2\\end{pmatrix}", true},
    {"Assigned", "A = \\begin{pmatrix}1 & 2\\\\ 3 & 4\\end{pmatrix}",
     "\\begin{pmatrix}1 & 2\\\\ 3 & 4\\end{pmatrix}", true},
    {"GoldInText", "\\begin{pmatrix}1 & 2\\end{pmatrix}",
     "$\\begin{pmatrix} 1 & 2 \\end{pmatrix}$", true},
    {"WrongCell", "\\begin{pmatrix}1 & 2\\\\ 3 & 5\\end{pmatrix}",
     "\\begin{pmatrix}1 & 2\\\\ 3 & 4\\end{pmatrix}", false},
    {"Transposed", "\\begin{pmatrix}1 & 3\\\\ 2 & 4\\end{pmatrix}",
     "\\begin{pmatrix}1 & 2\\\\ 3 & 4\\end{pmatrix}", false},
    {"SwappedColumns", "\\begin{pmatrix}2 & 1\\\\ 4 & 3\\end{pmatrix}",
     "\\begin{pmatrix}1 & 2\\\\ 3 & 4\\end{pmatrix}", false},
    {"ColumnIsNotRow", "\\begin{pmatrix}1\\\\ 2\\end{pmatrix}", "\\begin{pmatrix}1 & 2\\end{pmatrix}",
     false},
    {"ShapeMatters", "\\begin{pmatrix}1 & 2\\\\ 3 & 4\\end{pmatrix}",
     "\\begin{pmatrix}1 & 2 & 3 & 4\\end{pmatrix}", false},
    {"NotAList", "\\begin{pmatrix}1 & 2\\\\ 3 & 4\\end{pmatrix}", "1, 2, 3, 4", false},
    {"NotASet", "\\begin{pmatrix}1\\\\ 2\\end{pmatrix}", "\\{1, 2\\}", false},
    {"OneByOneIsNotAScalar", "\\begin{pmatrix}5\\end{pmatrix}", "5", false},
    {"RoundedCellTooCoarse", "\\begin{pmatrix}0.33 & 1\\end{pmatrix}",
     "\\begin{pmatrix}\\frac13 & 1\\end{pmatrix}", false},
    {"WrongSymbolicCell", "\\begin{pmatrix}\\cos t & \\sin t\\\\ \\sin t & \\cos t\\end{pmatrix}",
     "\\begin{pmatrix}\\cos t & -\\sin t\\\\ \\sin t & \\cos t\\end{pmatrix}", false},
};
R1_CASES(Matrices, kMatrices);

// Floats against values no decimal writes exactly, at `precision` (6)
// significant digits; see math_verify.h for each decision.
const Case kPrecision[] = {
    {"Third", "0.333333", "\\frac13", true},
    {"ThirdLonger", "0.3333333333", "1/3", true},
    {"NegativeThird", "-0.333333", "-\\frac{1}{3}", true},
    {"TwoThirdsRoundedUp", "0.666667", "2/3", true},
    {"Seventh", "0.142857", "\\frac{1}{7}", true},
    {"FiveSixths", "0.833333", "\\frac56", true},
    {"LargeValue", "333.333", "\\frac{1000}{3}", true},
    {"SmallValue", "0.000333333", "1/3000", true},
    {"Scientific", "3.33333 \\times 10^{-4}", "\\frac{1}{3000}", true},
    {"ScientificE", "3.33333e-4", "\\frac{1}{3000}", true},
    {"Percent", "33.3333\\%", "\\frac{1}{3}", true},
    {"FloatGold", "\\frac{1}{3}", "0.333333", true},
    {"RepeatingGold", "0.333333", "0.\\overline{3}", true},
    {"IrrationalRoot", "1.41421", "\\sqrt{2}", true},
    {"Euler", "2.71828", "e", true},
    {"FourDigitsTooFew", "0.3333", "\\frac13", false},
    {"TwoDigitsTooFew", "0.33", "\\frac13", false},
    {"Truncated", "0.666666", "\\frac23", false},
    {"WrongSeventhDigit", "0.3333334", "\\frac13", false},
    {"WrongSixthDigit", "0.142858", "\\frac17", false},
    {"WrongSign", "-0.333333", "\\frac13", false},
    {"FewDigitsOfSmallValue", "0.000333", "\\frac{1}{3000}", false},
    {"IntegerIsExact", "2.999999", "3", false},
    {"LargeIntegerIsExact", "1.23457e8", "123456789", false},
    {"TerminatingIsExact", "0.123457", "0.1234567", false},
    {"FloatsBothSides", "0.3333333", "0.333333", false},
    {"RootTooFewDigits", "1.414", "\\sqrt{2}", false},
};
R1_CASES(Precision, kPrecision);

// Inequalities in one variable are the intervals they describe.
const Case kInequalities[] = {
    {"OpenChain", "-793 < a < 10", "(-793, 10)", true},
    {"AtLeast", "x \\ge 2", "[2, \\infty)", true},
    {"Below", "x < 3", "(-\\infty, 3)", true},
    {"ClosedChain", "2 \\le x \\le 5", "[2, 5]", true},
    {"HalfOpenChain", "-1 < x \\leq 3", "(-1, 3]", true},
    {"DescendingChain", "5 \\ge x > 2", "(2, 5]", true},
    {"BoundFirst", "2 < x", "(2, \\infty)", true},
    {"UnicodeSign", "x \u2265 2", "[2, \\infty)", true},
    {"GoldInequality", "(2, \\infty)", "x > 2", true},
    {"GoldChain", "[-1, \\frac{1}{2})", "-1 \\le x < 0.5", true},
    {"Membership", "x \\in (2, \\infty)", "x > 2", true},
    {"NotEqual", "x \\ne 2", "(-\\infty, 2) \\cup (2, \\infty)", true},
    {"OrIsUnion", "x < -1 \\text{ or } x > 3", "(-\\infty, -1) \\cup (3, \\infty)", true},
    {"ClosedUnion", "x \\le -1 or x \\ge 3", "(-\\infty, -1] \\cup [3, \\infty)", true},
    {"SameSetMirrored", "-793 < a < 10", "10 > a > -793", true},
    {"SameSetMembership", "a \\in (-793, 10)", "-793 < a < 10", true},
    {"SymbolicBound", "x > \\sqrt{2}", "(\\sqrt{2}, \\infty)", true},
    // A negated variable: multiplied by -1, the relation flips.
    {"NegatedVariable", "-x > -1", "x < 1", true},
    {"NegatedVariableNonStrict", "-x \\ge -1", "x \\le 1", true},
    {"NegatedVariableInterval", "-x < 2", "(-2, \\infty)", true},
    {"NegatedVariableBoundFirst", "-1 < -x", "x < 1", true},
    {"NegatedVariableGold", "x \\ge 3", "-x \\le -3", true},
    {"NegatedVariableSymbolicBound", "-x < -\\sqrt{2}", "(\\sqrt{2}, \\infty)", true},
    {"NegatedVariableNotEqual", "-x \\ne 2", "(-\\infty, -2) \\cup (-2, \\infty)", true},
    {"WrongUpperEndpoint", "-793 < a < 10", "(-793, 11)", false},
    {"WrongLowerEndpoint", "-793 < a < 10", "(-792, 10)", false},
    {"ClosedVsOpen", "-793 < a \\le 10", "(-793, 10)", false},
    {"OpenVsClosed", "x > 2", "[2, \\infty)", false},
    {"NonStrictVsOpen", "x \\ge 2", "(2, \\infty)", false},
    {"WrongDirection", "x > 3", "(-\\infty, 3)", false},
    {"BelowIsOpen", "x < 3", "(-\\infty, 3]", false},
    {"DifferentVariables", "x > 2", "y > 2", false},
    {"MembershipOfOtherVariable", "x \\in (2, \\infty)", "y > 2", false},
    {"UnionWrongEnd", "x < -1 or x > 3", "(-\\infty, -1] \\cup (3, \\infty)", false},
    {"UnionMissingPiece", "x < -1", "(-\\infty, -1) \\cup (3, \\infty)", false},
    {"NotEqualIsNotOneSide", "x \\ne 2", "(2, \\infty)", false},
    {"SquareIsNoInterval", "x^2 > 4", "(2, \\infty)", false},
    {"ScaledIsNoInterval", "2x > 4", "(2, \\infty)", false},
    {"MixedChainIsNoInterval", "1 < x > 3", "(1, 3)", false},
    {"IntervalIsNotAPair", "1 < x < 2", "1, 2", false},
    {"NegatedVariableUnflipped", "-x > -1", "x > 1", false},
    {"NegatedVariableBoundSign", "-x > -1", "x < -1", false},
    {"NegatedVariableBoundSignAndRelation", "-x > -1", "x > -1", false},
    {"NegatedVariableStrictness", "-x \\ge -1", "x < 1", false},
    {"NegatedVariableStrictnessGold", "-x > -1", "x \\le 1", false},
    {"NegatedVariableOtherVariable", "-y > -1", "x < 1", false},
    {"NegatedVariableOpenVsClosed", "-x < 2", "[-2, \\infty)", false},
    {"NegatedVariableBoundFirstWrong", "-1 < -x", "x > 1", false},
    {"NegatedVariableNotEqualIsNotOneSide", "-x \\ne 2", "(-2, \\infty)", false},
    {"NegatedScaledIsNoInterval", "-2x > -4", "x < 2", false},
    {"NegatedVariableEquationIsNoInterval", "-x = -1", "x < 1", false},
};
R1_CASES(Inequalities, kInequalities);

// Equations against values: a side that is a label names the other side.
const Case kLabelledValues[] = {
    {"FunctionOfX", "f(x)=1", "1", true},
    {"FunctionAtPoint", "f(2) = 5", "5", true},
    {"InverseFunction", "f^{-1}(3) = 2", "2", true},
    {"Derivative", "g'(x) = 3x^2", "3x^2", true},
    {"Segments", "AB=4, CD=5", "4, 5", true},
    {"SegmentsUnordered", "AB = 4, CD = 5", "5, 4", true},
    {"Variable", "x = 3", "3", true},
    {"Angle", "\\angle A = 30^\\circ", "30", true},
    {"AngleMeasure", "m\\angle ABC = 40", "40", true},
    {"Overline", "\\overline{AB} = 5", "5", true},
    {"Sequence", "a_{n} = 2n + 1", "2n+1", true},
    {"GreekName", "\\theta = \\frac{\\pi}{2}", "\\pi/2", true},
    {"NamedSet", "S = \\{1, 2\\}", "\\{2, 1\\}", true},
    {"AgreeingChain", "x = \\frac{6}{8} = 0.75", "\\frac34", true},
    {"TrueArithmetic", "2 + 3 = 5", "5", true},
    {"GoldLabelled", "5", "f(2) = 5", true},
    {"SameEquation", "f(x) = x^2", "f(x) = x \\cdot x", true},
    {"SameAngle", "\\angle A = 30^\\circ", "\\angle A = 30", true},
    {"ChainVsEquation", "x = \\frac{6}{8} = 0.75", "x = \\frac34", true},
    {"WrongValue", "f(x)=1", "2", false},
    {"OneWrongSegment", "AB = 4, CD = 5", "4, 6", false},
    {"DifferentSegments", "AB = 4", "CD = 4", false},
    {"DifferentFunctions", "f(x) = 1", "g(x) = 1", false},
    {"DifferentAngles", "\\angle A = 30", "\\angle B = 30", false},
    {"FunctionValueDiffers", "f(x) = x^2", "f(x) = x^3", false},
    {"SquareIsACondition", "x^2 = 4", "4", false},
    {"ScaledIsACondition", "2x = 10", "10", false},
    {"AbsoluteIsACondition", "|x| = 3", "3", false},
    {"SineIsACondition", "\\sin x = 1", "1", false},
    {"SumIsACondition", "x + 1 = 5", "5", false},
    {"DisagreeingChain", "x = 2 = 3", "3", false},
    {"FalseArithmetic", "1 + 1 = 3", "3", false},
    {"ConstantsAreNoLabel", "5 = 5", "x = 5", false},
};
R1_CASES(LabelledValues, kLabelledValues);

// Sets described by a relation, and membership.
const Case kSetRelations[] = {
    {"Colon", "\\{x : x > 2\\}", "(2, \\infty)", true},
    {"Mid", "\\{x \\mid x \\ge 2\\}", "[2, \\infty)", true},
    {"Bar", "\\{x | x < 3\\}", "x < 3", true},
    {"Reals", "\\{x \\in \\mathbb{R} : -1 < x < 1\\}", "(-1, 1)", true},
    {"LeftRightBraces", "\\left\\{ x \\,\\middle|\\, x > 2 \\right\\}", "(2, \\infty)", true},
    {"MembershipVsBuilder", "x \\in (2, \\infty)", "\\{x : x > 2\\}", true},
    {"BuilderVsBuilder", "\\{x : x > 2\\}", "\\{x \\mid 2 < x\\}", true},
    {"MembershipInSet", "x \\in \\{1, 2\\}", "\\{1, 2\\}", true},
    {"MembershipVsList", "x \\in \\{1, 2\\}", "1, 2", true},
    {"MembershipVsAssignments", "x \\in \\{1,2\\}", "x = 1 or x = 2", true},
    {"BuilderOpenVsClosed", "\\{x : x > 2\\}", "[2, \\infty)", false},
    {"BuilderOtherVariable", "\\{x : x > 2\\}", "\\{y : y > 2\\}", false},
    {"MembershipWrongElement", "x \\in \\{1, 2\\}", "\\{1, 3\\}", false},
    {"MembershipMissingElement", "x \\in \\{1, 2\\}", "\\{1\\}", false},
    {"BuilderIsNotItsBound", "\\{x : x > 2\\}", "\\{2\\}", false},
    {"MembershipOtherVariable", "x \\in (2, \\infty)", "y \\in (2, \\infty)", false},
};
R1_CASES(SetRelations, kSetRelations);

// ---- reasons other than equal / not_equal ----

TEST(MathVerifyReasons, EmptyAnswer) {
  for (const char* empty : {"", "   ", "$$", "\\boxed{}", "\\quad", "."}) {
    const MathVerdict v = VerifyMathAnswer(empty, "5");
    EXPECT_FALSE(v.correct) << "'" << empty << "'";
    EXPECT_EQ(v.reason, "empty_answer") << "'" << empty << "'";
  }
}

TEST(MathVerifyReasons, UnparsableGoldIsNeverCorrect) {
  for (const char* gold : {"\\frac{1}{", "", "(1, 2", "\\begin{pmatrix}1\\\\2",
                           "\\begin{vmatrix}1 & 2\\\\3 & 4\\end{vmatrix}", "\xff\xfe", "5 +",
                           "}{"}) {
    const MathVerdict v = VerifyMathAnswer(gold, gold);
    EXPECT_FALSE(v.correct) << "'" << gold << "'";
    EXPECT_EQ(v.reason, "gold_unparsable") << "'" << gold << "'";
  }
}

TEST(MathVerifyReasons, UnparsableAnswer) {
  for (const char* answer : {"\\frac{1}{", "(1, 2", "5 +", "\\unknowncommand", "\xff\xfe" "5",
                             "2 3", "x = ", "{5",
                             // matrices: a ragged row, an empty cell, "\&" is no cell, unclosed
                             "\\begin{pmatrix}1 & 2\\\\3\\end{pmatrix}",
                             "\\begin{pmatrix}1 & \\\\3 & 4\\end{pmatrix}",
                             "\\begin{pmatrix}1 \\& 2\\end{pmatrix}", "\\begin{pmatrix}5",
                             "\\begin{pmatrix}5\\end{bmatrix}",
                             // a determinant is no matrix
                             "\\begin{vmatrix}5\\end{vmatrix}",
                             // a set builder whose condition is not about its variable
                             "\\{y : x > 2\\}", "\\{x : 5\\}", "\\{x^2 : x > 2\\}"}) {
    const MathVerdict v = VerifyMathAnswer(answer, "5");
    EXPECT_FALSE(v.correct) << "'" << answer << "'";
    EXPECT_EQ(v.reason, "answer_unparsable") << "'" << answer << "'";
  }
}

TEST(MathVerifyReasons, AnswerTooLong) {
  const std::string answer(5000, '1');
  EXPECT_EQ(VerifyMathAnswer(answer, "1").reason, "answer_too_long");
  MathVerifyOptions options;
  options.max_answer_bytes = 3;
  EXPECT_EQ(VerifyMathAnswer("1234", "1234", options).reason, "gold_unparsable");
  EXPECT_EQ(VerifyMathAnswer("1234", "12", options).reason, "answer_too_long");
}

std::string Nested(int depth, absl::string_view open, absl::string_view center,
                   absl::string_view close) {
  std::string s;
  for (int i = 0; i < depth; ++i) s.append(open.data(), open.size());
  s.append(center.data(), center.size());
  for (int i = 0; i < depth; ++i) s.append(close.data(), close.size());
  return s;
}

TEST(MathVerifyReasons, NestingBeyondMaxDepthIsTooDeep) {
  EXPECT_EQ(VerifyMathAnswer(Nested(10, "(", "1", ")"), "1").reason, "equal");
  EXPECT_EQ(VerifyMathAnswer(Nested(100, "(", "1", ")"), "1").reason, "too_deep");
  EXPECT_EQ(VerifyMathAnswer(Nested(100, "\\sqrt{", "1", "}"), "1").reason, "too_deep");
  EXPECT_EQ(VerifyMathAnswer(Nested(100, "2^{", "1", "}"), "1").reason, "too_deep");
  EXPECT_EQ(VerifyMathAnswer(Nested(100, "\\{", "1", "\\}"), "1").reason, "too_deep");
  MathVerifyOptions options;
  options.max_depth = 4;
  EXPECT_EQ(VerifyMathAnswer(Nested(6, "(", "1", ")"), "1", options).reason, "too_deep");
  EXPECT_EQ(VerifyMathAnswer(Nested(6, "(", "1", ")"), Nested(6, "(", "1", ")"), options).reason,
            "gold_unparsable");
}

TEST(MathVerifyReasons, DepthOptionIsCappedSoTheStackIsSafe) {
  MathVerifyOptions options = {};
  options.max_depth = 1 << 30;
  options.max_answer_bytes = 1 << 20;
  EXPECT_EQ(VerifyMathAnswer(Nested(200000, "(", "1", ")"), "1", options).reason, "too_deep");
  EXPECT_EQ(VerifyMathAnswer(Nested(200, "(", "1", ")"), "1", options).reason, "equal");
}

TEST(MathVerifyReasons, TooManyItemsIsTooComplex) {
  std::string items;
  for (int i = 0; i < 300; ++i) absl::StrAppend(&items, i == 0 ? "" : ", ", i);
  EXPECT_EQ(VerifyMathAnswer(items, "1").reason, "answer_too_complex");
  EXPECT_EQ(VerifyMathAnswer("\\{" + items + "\\}", "1").reason, "answer_too_complex");
}

TEST(MathVerifyReasons, InvalidOptions) {
  MathVerifyOptions options;
  options.random_points = 0;
  EXPECT_EQ(VerifyMathAnswer("1", "1", options).reason, "invalid_options");
  options = {};
  options.relative_tolerance = -1;
  EXPECT_EQ(VerifyMathAnswer("1", "1", options).reason, "invalid_options");
  options = {};
  options.max_depth = 0;
  EXPECT_EQ(VerifyMathAnswer("1", "1", options).reason, "invalid_options");
}

// ---- options ----

TEST(MathVerifyOptions, PercentAsFractionCanBeTurnedOff) {
  MathVerifyOptions options;
  options.percent_equals_fraction = false;
  EXPECT_FALSE(VerifyMathAnswer("50%", "0.5", options).correct);
  EXPECT_TRUE(VerifyMathAnswer("50%", "50", options).correct);
  EXPECT_TRUE(VerifyMathAnswer("50\\%", "50%", options).correct);
}

TEST(MathVerifyOptions, LooserToleranceAcceptsCoarsePi) {
  MathVerifyOptions options;
  options.relative_tolerance = 1e-2;
  EXPECT_TRUE(VerifyMathAnswer("3.14", "\\pi", options).correct);
  EXPECT_FALSE(VerifyMathAnswer("3", "\\pi", options).correct);
  // Exact rationals stay exact whatever the tolerance.
  EXPECT_FALSE(VerifyMathAnswer("0.333", "1/3", options).correct);
}

TEST(MathVerifyOptions, VerdictDoesNotDependOnSeed) {
  for (uint64_t seed : {0ull, 1ull, 42ull, 0xffffffffffffffffull}) {
    MathVerifyOptions options;
    options.seed = seed;
    EXPECT_TRUE(VerifyMathAnswer("(x+1)^2", "x^2+2x+1", options).correct) << seed;
    EXPECT_FALSE(VerifyMathAnswer("(x+1)^2", "x^2+1", options).correct) << seed;
    EXPECT_TRUE(VerifyMathAnswer("\\ln(x^2)", "2\\ln|x|", options).correct) << seed;
  }
}

TEST(MathVerifyOptions, SinglePointStillCompares) {
  MathVerifyOptions options;
  options.random_points = 1;
  EXPECT_TRUE(VerifyMathAnswer("2x", "x+x", options).correct);
  EXPECT_FALSE(VerifyMathAnswer("2x", "x", options).correct);
}

TEST(MathVerifyOptions, PrecisionSetsTheDigitsAFloatNeeds) {
  MathVerifyOptions options;
  options.precision = 0;  // off: floats compare exactly
  EXPECT_FALSE(VerifyMathAnswer("0.333333", "1/3", options).correct);
  EXPECT_FALSE(VerifyMathAnswer("0.3333333333", "1/3", options).correct);
  EXPECT_TRUE(VerifyMathAnswer("0.25", "1/4", options).correct);
  options.precision = 4;
  EXPECT_TRUE(VerifyMathAnswer("0.3333", "1/3", options).correct);
  EXPECT_FALSE(VerifyMathAnswer("0.333", "1/3", options).correct);
  EXPECT_FALSE(VerifyMathAnswer("0.3334", "1/3", options).correct);
  options.precision = 10;
  EXPECT_FALSE(VerifyMathAnswer("0.333333", "1/3", options).correct);
  EXPECT_TRUE(VerifyMathAnswer("0.3333333333", "1/3", options).correct);
  EXPECT_TRUE(VerifyMathAnswer("0.6666666667", "2/3", options).correct);
}

TEST(MathVerifyOptions, PrecisionOutOfRangeIsInvalid) {
  MathVerifyOptions options;
  options.precision = -1;
  EXPECT_EQ(VerifyMathAnswer("1", "1", options).reason, "invalid_options");
  options.precision = 31;
  EXPECT_EQ(VerifyMathAnswer("1", "1", options).reason, "invalid_options");
  options.precision = 30;
  EXPECT_EQ(VerifyMathAnswer("1", "1", options).reason, "equal");
}

// Each pair is equal when lenient and not equal when strict (the default).
TEST(MathVerifyOptions, LenientIgnoresWhichVariableIsNamed) {
  const std::pair<const char*, const char*> kPairs[] = {
      {"y + 1", "x + 1"},          {"f(y)", "f(x)"},
      {"t^2 + 1", "x^2 + 1"},      {"y = 5", "x = 5"},
      {"AB = 4", "CD = 4"},        {"\\angle B = 30", "\\angle A = 30"},
      {"y > 2", "x > 2"},          {"\\{y : y > 2\\}", "x \\in (2, \\infty)"},
      {"x = 1, y = 2", "(1, 2)"},  {"AB = 4, CD = 5", "(4, 5)"},
      {"1, 2", "(1, 2)"},          {"\\{1, 2\\}", "(1, 2)"},
      {"(1, 2)", "1, 2"},
  };
  MathVerifyOptions lenient;
  lenient.strict = false;
  for (const auto& [answer, gold] : kPairs) {
    EXPECT_TRUE(VerifyMathAnswer(answer, gold, lenient).correct) << answer << " vs " << gold;
    EXPECT_FALSE(VerifyMathAnswer(answer, gold).correct) << answer << " vs " << gold;
  }
}

TEST(MathVerifyOptions, LenientStillRejectsWrongAnswers) {
  const std::pair<const char*, const char*> kPairs[] = {
      {"B", "A"},                    // choices are not variables to rename
      {"y", "x"},
      {"y + 2", "x + 1"},
      {"x^2 + y", "y^2 + x"},        // both names are in both: nothing to rename
      {"x = y + 1", "y = x + 1"},
      {"y = 6", "x = 5"},
      {"f(x) = 1", "2"},
      {"2, 1", "(1, 2)"},            // a list against a tuple is in order
      {"AB = 5, CD = 4", "(4, 5)"},
      {"y > 2", "x \\ge 2"},
      {"1, 2, 3", "(1, 2)"},
      {"0.33", "1/3"},
      {"\\begin{pmatrix}1\\\\2\\end{pmatrix}", "(1, 2)"},
  };
  MathVerifyOptions lenient;
  lenient.strict = false;
  for (const auto& [answer, gold] : kPairs) {
    EXPECT_FALSE(VerifyMathAnswer(answer, gold, lenient).correct) << answer << " vs " << gold;
  }
}

TEST(MathVerifyOptions, BothModesLetAnEquationStandForItsValue) {
  MathVerifyOptions lenient;
  lenient.strict = false;
  for (const MathVerifyOptions& options : {MathVerifyOptions{}, lenient}) {
    EXPECT_TRUE(VerifyMathAnswer("x = 5", "5", options).correct);
    EXPECT_TRUE(VerifyMathAnswer("y = 5", "5", options).correct);
    EXPECT_TRUE(VerifyMathAnswer("5", "x = 5", options).correct);
    EXPECT_TRUE(VerifyMathAnswer("f(x) = 1", "1", options).correct);
    EXPECT_TRUE(VerifyMathAnswer("x = 5", "x = 5", options).correct);
    EXPECT_FALSE(VerifyMathAnswer("x^2 = 25", "5", options).correct);
  }
}

// ---- adversarial input: each must end in a verdict, quickly ----

MathVerifyOptions Huge() {
  MathVerifyOptions options;
  options.max_answer_bytes = 8 << 20;
  return options;
}

TEST(MathVerifyAdversarial, FiveMegabytes) {
  const std::string sum = [] {
    std::string s;
    for (int i = 0; i < (5 << 20) / 2; ++i) s += "1+";
    return s + "1";
  }();
  EXPECT_EQ(VerifyMathAnswer(sum, "5").reason, "answer_too_long");
  EXPECT_EQ(VerifyMathAnswer(sum, "5", Huge()).reason, "answer_too_complex");
  const std::string letters(5 << 20, 'x');
  EXPECT_EQ(VerifyMathAnswer(letters, "5", Huge()).reason, "not_equal");
  const std::string list = [] {
    std::string s;
    for (int i = 0; i < (5 << 20) / 2; ++i) s += "1,";
    return s + "1";
  }();
  EXPECT_EQ(VerifyMathAnswer(list, "1", Huge()).reason, "answer_too_complex");
}

TEST(MathVerifyAdversarial, MillionNestedBraces) {
  EXPECT_EQ(VerifyMathAnswer(Nested(1000000, "{", "1", "}"), "1").reason, "answer_too_long");
  EXPECT_EQ(VerifyMathAnswer(Nested(1000000, "{", "1", "}"), "1", Huge()).reason, "too_deep");
  EXPECT_EQ(VerifyMathAnswer(std::string(1000000, '{'), "1", Huge()).reason, "too_deep");
  EXPECT_EQ(VerifyMathAnswer(std::string(1000000, '}'), "1", Huge()).reason,
            "answer_unparsable");
  EXPECT_EQ(VerifyMathAnswer(Nested(1000000, "(", "1", ")"), "1", Huge()).reason, "too_deep");
  EXPECT_EQ(VerifyMathAnswer(Nested(1000000, "\\{", "1", "\\}"), "1", Huge()).reason,
            "too_deep");
  EXPECT_EQ(VerifyMathAnswer(Nested(1000000, "\\text{", "1", "}"), "1", Huge()).reason, "equal");
  EXPECT_EQ(VerifyMathAnswer("1", Nested(1000000, "{", "1", "}"), Huge()).reason,
            "gold_unparsable");
}

TEST(MathVerifyAdversarial, NonNestingChainsDoNotRecurse) {
  // A million signs are counted in a loop: an even count is +5.
  EXPECT_EQ(VerifyMathAnswer(std::string(1000000, '-') + "5", "5", Huge()).reason, "equal");
  EXPECT_EQ(VerifyMathAnswer(Nested(100000, "x^", "2", ""), "1", Huge()).reason, "too_deep");
  EXPECT_EQ(VerifyMathAnswer(Nested(100000, "\\frac{1}{", "2", "}"), "1", Huge()).reason,
            "too_deep");
}

TEST(MathVerifyAdversarial, NestedSetsCompareInLinearTime) {
  // Both directions of set cover reach every inner pair; without memoizing
  // pairs this is 2^60 comparisons and runs out of budget.
  EXPECT_EQ(VerifyMathAnswer(Nested(60, "\\{", "1", "\\}"), Nested(60, "\\{", "1", "\\}")).reason,
            "equal");
  EXPECT_EQ(VerifyMathAnswer(Nested(60, "\\{", "1", "\\}"), Nested(60, "\\{", "2", "\\}")).reason,
            "not_equal");
  EXPECT_EQ(VerifyMathAnswer(Nested(30, "x = (1, ", "2", ")"), Nested(30, "x = (1, ", "2", ")")).reason,
            "equal");
}

TEST(MathVerifyAdversarial, HugeValuesStayBounded) {
  EXPECT_EQ(VerifyMathAnswer("2^{2^{2^{2^{2}}}}", "1").reason, "not_equal");
  EXPECT_EQ(VerifyMathAnswer("10^{10^{10}}", "10^{10^{10}}+1").reason, "equal");  // both inf
  EXPECT_EQ(VerifyMathAnswer("1e999999999", "1").reason, "not_equal");
  EXPECT_EQ(VerifyMathAnswer("100000!", "1").reason, "not_equal");
  EXPECT_EQ(VerifyMathAnswer("9!!!!", "1").reason, "not_equal");
  EXPECT_EQ(VerifyMathAnswer("\\binom{10^{18}}{5 \\cdot 10^{17}}", "1").reason, "not_equal");
  EXPECT_EQ(VerifyMathAnswer("1/0", "1/0").reason, "not_equal");  // undefined equals nothing
  EXPECT_EQ(VerifyMathAnswer(std::string(4000, '9'), std::string(4000, '9')).reason, "equal");
}

TEST(MathVerifyAdversarial, BinaryBytesAndInvalidUtf8) {
  std::string bytes;
  uint32_t state = 7;
  for (int i = 0; i < 4000; ++i) {
    state = state * 1664525u + 1013904223u;
    bytes.push_back(static_cast<char>(state >> 24));
  }
  const MathVerdict v = VerifyMathAnswer(bytes, "5");
  EXPECT_FALSE(v.correct);
  EXPECT_THAT(v.reason, AnyOf("answer_unparsable", "not_equal", "too_deep"));
  EXPECT_EQ(VerifyMathAnswer("5", bytes).reason, "gold_unparsable");
  EXPECT_EQ(VerifyMathAnswer("\xc3\x28\xa0\xa1", "5").reason, "answer_unparsable");
  EXPECT_EQ(VerifyMathAnswer(std::string("5\0", 2), "5").reason, "answer_unparsable");
  const std::string big_binary = [] {
    std::string s;
    uint32_t st = 99;
    for (int i = 0; i < (5 << 20); ++i) {
      st = st * 1664525u + 1013904223u;
      s.push_back(static_cast<char>(st >> 24));
    }
    return s;
  }();
  EXPECT_FALSE(VerifyMathAnswer(big_binary, "5", Huge()).correct);
}

TEST(MathVerifyAdversarial, ManyVariablesAndItems) {
  std::string vars;
  for (char c = 'a'; c <= 'z'; ++c) {
    const std::string name(1, c);
    absl::StrAppend(&vars, c == 'a' ? "" : "+", name, "_1+", name, "_2");
  }
  EXPECT_EQ(VerifyMathAnswer(vars, "1").reason, "answer_too_complex");
  EXPECT_EQ(VerifyMathAnswer("1", vars).reason, "gold_unparsable");
  std::string items;
  for (int i = 0; i < 200; ++i) absl::StrAppend(&items, i == 0 ? "" : ", ", i);
  EXPECT_EQ(VerifyMathAnswer(items, items).reason, "equal");
}

TEST(MathVerifyAdversarial, MatricesStayBounded) {
  // More cells than a list may hold.
  std::string wide = "\\begin{pmatrix}";
  for (int i = 0; i < 300; ++i) absl::StrAppend(&wide, i == 0 ? "" : " & ", i);
  wide += "\\end{pmatrix}";
  EXPECT_EQ(VerifyMathAnswer(wide, "1").reason, "answer_too_complex");
  // A megabyte of separators, unclosed and closed.
  std::string separators = "\\begin{pmatrix}";
  for (int i = 0; i < (1 << 19); ++i) separators += "&\\\\";
  EXPECT_EQ(VerifyMathAnswer(separators, "1", Huge()).reason, "answer_too_complex");
  EXPECT_EQ(VerifyMathAnswer(separators + "\\end{pmatrix}", "1", Huge()).reason,
            "answer_too_complex");
  EXPECT_EQ(VerifyMathAnswer("1", separators + "\\end{pmatrix}", Huge()).reason, "gold_unparsable");
  // Matrices nested in cells, deeper than the depth limit.
  EXPECT_EQ(
      VerifyMathAnswer(Nested(200, "\\begin{pmatrix}1 & ", "2", "\\end{pmatrix}"), "1", Huge()).reason,
      "too_deep");
  EXPECT_EQ(VerifyMathAnswer(Nested(100000, "\\begin{bmatrix}", "2", "\\end{bmatrix}"), "1", Huge())
                .reason,
            "too_deep");
  EXPECT_FALSE(VerifyMathAnswer(Nested(100000, "\\begin{pmatrix}", "", ""), "1", Huge()).correct);
  EXPECT_FALSE(VerifyMathAnswer(Nested(100000, "\\end{pmatrix}", "", ""), "1", Huge()).correct);
  // Openers whose closer never comes are not searched for again and again.
  EXPECT_FALSE(VerifyMathAnswer(Nested(200000, "\\begin{array}{", "", ""), "1", Huge()).correct);
  EXPECT_FALSE(
      VerifyMathAnswer("\\begin{pmatrix}" + Nested(500000, "\\\\[", "", ""), "1", Huge()).correct);
  EXPECT_FALSE(VerifyMathAnswer(Nested(200000, "\\begin{pmatrix*}[", "", ""), "1", Huge()).correct);
  // Nested but within the limit: compared cell by cell.
  EXPECT_EQ(VerifyMathAnswer(Nested(20, "\\begin{pmatrix}1 & ", "2", "\\end{pmatrix}"),
                             Nested(20, "\\begin{bmatrix}1 & ", "2", "\\end{bmatrix}"))
                .reason,
            "equal");
}

TEST(MathVerifyAdversarial, RelationsAndSetBuildersStayBounded) {
  std::string chain = "0";
  for (int i = 1; i < 300; ++i) absl::StrAppend(&chain, " < ", i);
  EXPECT_EQ(VerifyMathAnswer(chain, "1").reason, "answer_too_complex");
  std::string equalities = "x";
  for (int i = 0; i < 200; ++i) equalities += " = 1";
  EXPECT_EQ(VerifyMathAnswer(equalities, "1").reason, "equal");
  EXPECT_EQ(VerifyMathAnswer(Nested(100, "\\{x : x \\in ", "(2, \\infty)", "\\}"), "x > 2").reason,
            "too_deep");
  EXPECT_EQ(VerifyMathAnswer(Nested(20, "\\{x : x \\in ", "(2, \\infty)", "\\}"), "x > 2").reason,
            "equal");
  std::string labels = "f(";  // a label with a megabyte argument still names 1
  labels += std::string(1 << 20, 'x') + ") = 1";
  EXPECT_EQ(VerifyMathAnswer(labels, "1", Huge()).reason, "equal");
  EXPECT_EQ(VerifyMathAnswer(labels, "2", Huge()).reason, "not_equal");
  EXPECT_FALSE(VerifyMathAnswer(std::string(1 << 20, '|') + "x : x > 2", "1", Huge()).correct);
}

}  // namespace
}  // namespace r1::reward
