// tokenizer.json: parsing (every key checked, every unimplemented feature
// refused by name with its JSON path), the added-token split, and the
// encode/decode pipeline.
#include "common/hf_tokenizer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/file_util.h"
#include "common/hf_tokenizer_internal.h"
#include "common/status.h"
#include "common/utf8.h"

namespace r1 {

using hf_internal::Pipeline;
using Json = nlohmann::json;

// Ids index dense tables, so a file cannot ask for more (released vocabularies
// hold at most a few hundred thousand).
constexpr int64_t kMaxTokenId = (1 << 24) - 1;

namespace {

using namespace hf_internal;  // NOLINT: the components, all private to this unit

// ---- Parsing ---------------------------------------------------------------

// Reads one tokenizer.json; every error names the file and the JSON path.
class Parser {
 public:
  explicit Parser(const std::string& origin) : origin_(origin) {}

  absl::Status Error(const std::string& path, absl::string_view message) const {
    return absl::InvalidArgumentError(absl::StrCat(origin_, ": ", path, ": ", message));
  }
  absl::Status Unsupported(const std::string& path, const std::string& type) const {
    return Error(path, absl::StrCat("type \"", type, "\" is not supported"));
  }

  absl::Status ExpectObject(const Json& value, const std::string& path) const {
    if (!value.is_object()) return Error(path, "must be an object");
    return absl::OkStatus();
  }

  // Refuses keys outside `known`: an unknown key may change results.
  absl::Status CheckKeys(const Json& object, const std::string& path,
                         std::initializer_list<const char*> known) const {
    for (const auto& item : object.items()) {
      const bool is_known = std::any_of(known.begin(), known.end(),
                                        [&](const char* k) { return item.key() == k; });
      if (!is_known) {
        return Error(path, absl::StrCat("key \"", item.key(), "\" is not supported"));
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> Type(const Json& object, const std::string& path) const {
    R1_RETURN_IF_ERROR(ExpectObject(object, path));
    auto it = object.find("type");
    if (it == object.end()) return Error(path + ".type", "is missing");
    if (!it->is_string()) return Error(path + ".type", "must be a string");
    return it->get<std::string>();
  }

  // A field that may be absent or null (then `fallback`).
  absl::StatusOr<bool> Bool(const Json& object, const std::string& path, const char* key,
                            bool fallback) const {
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) return fallback;
    if (!it->is_boolean()) return Error(Path(path, key), "must be true or false");
    return it->get<bool>();
  }
  absl::StatusOr<std::string> String(const Json& object, const std::string& path,
                                     const char* key, const std::string& fallback) const {
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) return fallback;
    if (!it->is_string()) return Error(Path(path, key), "must be a string");
    return it->get<std::string>();
  }
  absl::StatusOr<std::string> RequiredString(const Json& object, const std::string& path,
                                             const char* key) const {
    auto it = object.find(key);
    if (it == object.end()) return Error(Path(path, key), "is missing");
    if (!it->is_string()) return Error(Path(path, key), "must be a string");
    return it->get<std::string>();
  }
  absl::StatusOr<int64_t> Int(const Json& object, const std::string& path, const char* key,
                              std::optional<int64_t> fallback) const {
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) {
      if (fallback.has_value()) return *fallback;
      return Error(Path(path, key), "is missing");
    }
    if (!it->is_number_integer()) return Error(Path(path, key), "must be an integer");
    return it->get<int64_t>();
  }
  absl::StatusOr<const Json*> Array(const Json& object, const std::string& path,
                                    const char* key) const {
    auto it = object.find(key);
    if (it == object.end()) return Error(Path(path, key), "is missing");
    if (!it->is_array()) return Error(Path(path, key), "must be an array");
    return &*it;
  }
  // One character (replacement characters, Strip's content).
  absl::StatusOr<int32_t> Char(const Json& object, const std::string& path, const char* key,
                               const std::string& fallback, std::string* as_text) const {
    R1_ASSIGN_OR_RETURN(std::string text, String(object, path, key, fallback));
    int len = 0;
    const int32_t cp = text.empty() ? -1 : utf8::NextCodePoint(text, 0, &len);
    if (cp < 0 || static_cast<size_t>(len) != text.size()) {
      return Error(Path(path, key), "must be exactly one character");
    }
    if (as_text != nullptr) *as_text = text;
    return cp;
  }

  static std::string Path(const std::string& path, const char* key) {
    return absl::StrCat(path, ".", key);
  }
  static std::string Index(const std::string& path, size_t i) {
    return absl::StrCat(path, "[", i, "]");
  }

  // {"String": s} or {"Regex": r}.
  absl::StatusOr<std::shared_ptr<const Regex>> Pattern(const Json& object,
                                                       const std::string& parent) const {
    const std::string path = Path(parent, "pattern");
    auto it = object.find("pattern");
    if (it == object.end()) return Error(path, "is missing");
    R1_RETURN_IF_ERROR(ExpectObject(*it, path));
    R1_RETURN_IF_ERROR(CheckKeys(*it, path, {"String", "Regex"}));
    const bool literal = it->contains("String");
    if (it->size() != 1) return Error(path, "must hold exactly one of String or Regex");
    const Json& value = literal ? (*it)["String"] : (*it)["Regex"];
    const std::string value_path = Path(path, literal ? "String" : "Regex");
    if (!value.is_string()) return Error(value_path, "must be a string");
    auto regex = Regex::Compile(value.get<std::string>(), literal);
    if (!regex.ok()) return Error(value_path, regex.status().message());
    return *std::move(regex);
  }

  absl::StatusOr<PrependScheme> Scheme(const Json& object, const std::string& path) const {
    auto it = object.find("prepend_scheme");
    if (it == object.end() || it->is_null()) {
      // Files from before prepend_scheme existed carry add_prefix_space.
      R1_ASSIGN_OR_RETURN(bool add_prefix_space, Bool(object, path, "add_prefix_space", true));
      return add_prefix_space ? PrependScheme::kAlways : PrependScheme::kNever;
    }
    if (it->is_string()) {
      const std::string scheme = it->get<std::string>();
      if (scheme == "first") return PrependScheme::kFirst;
      if (scheme == "always") return PrependScheme::kAlways;
      if (scheme == "never") return PrependScheme::kNever;
    }
    return Error(Path(path, "prepend_scheme"), "must be \"first\", \"always\" or \"never\"");
  }

  absl::StatusOr<std::unique_ptr<Normalizer>> ParseNormalizer(const Json& json,
                                                              const std::string& path) const {
    if (json.is_null()) return std::unique_ptr<Normalizer>();
    R1_ASSIGN_OR_RETURN(std::string type, Type(json, path));
    if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") {
      R1_RETURN_IF_ERROR(CheckKeys(json, path, {"type"}));
      const UnicodeForm form = type == "NFC"    ? UnicodeForm::kNfc
                               : type == "NFD"  ? UnicodeForm::kNfd
                               : type == "NFKC" ? UnicodeForm::kNfkc
                                                : UnicodeForm::kNfkd;
      return MakeUnicodeNormalizer(form);
    }
    if (type == "Lowercase") {
      R1_RETURN_IF_ERROR(CheckKeys(json, path, {"type"}));
      return MakeLowercaseNormalizer();
    }
    if (type == "Strip") {
      R1_RETURN_IF_ERROR(CheckKeys(json, path, {"type", "strip_left", "strip_right"}));
      R1_ASSIGN_OR_RETURN(bool left, Bool(json, path, "strip_left", false));
      R1_ASSIGN_OR_RETURN(bool right, Bool(json, path, "strip_right", false));
      return MakeStripNormalizer(left, right);
    }
    if (type == "Prepend") {
      R1_RETURN_IF_ERROR(CheckKeys(json, path, {"type", "prepend"}));
      R1_ASSIGN_OR_RETURN(std::string prepend, RequiredString(json, path, "prepend"));
      return MakePrependNormalizer(std::move(prepend));
    }
    if (type == "Replace") {
      R1_RETURN_IF_ERROR(CheckKeys(json, path, {"type", "pattern", "content"}));
      R1_ASSIGN_OR_RETURN(auto pattern, Pattern(json, path));
      R1_ASSIGN_OR_RETURN(std::string content, RequiredString(json, path, "content"));
      return MakeReplaceNormalizer(std::move(pattern), std::move(content));
    }
    if (type == "Sequence") {
      R1_RETURN_IF_ERROR(CheckKeys(json, path, {"type", "normalizers"}));
      R1_ASSIGN_OR_RETURN(const Json* list, Array(json, path, "normalizers"));
      std::vector<std::unique_ptr<Normalizer>> normalizers;
      for (size_t i = 0; i < list->size(); ++i) {
        R1_ASSIGN_OR_RETURN(auto normalizer,
                            ParseNormalizer((*list)[i], Index(Path(path, "normalizers"), i)));
        if (normalizer != nullptr) normalizers.push_back(std::move(normalizer));
      }
      return MakeNormalizerSequence(std::move(normalizers));
    }
    return Unsupported(path, type);
  }

  absl::StatusOr<std::unique_ptr<PreTokenizer>> ParsePreTokenizer(
      const Json& json, const std::string& path) const {
    if (json.is_null()) return std::unique_ptr<PreTokenizer>();
    R1_ASSIGN_OR_RETURN(std::string type, Type(json, path));
    if (type == "ByteLevel") {
      // trim_offsets only moves offsets, which Encode does not return.
      R1_RETURN_IF_ERROR(
          CheckKeys(json, path, {"type", "add_prefix_space", "trim_offsets", "use_regex"}));
      R1_ASSIGN_OR_RETURN(bool add_prefix_space, Bool(json, path, "add_prefix_space", true));
      R1_ASSIGN_OR_RETURN(bool use_regex, Bool(json, path, "use_regex", true));
      std::shared_ptr<const Regex> regex;
      if (use_regex) {
        R1_ASSIGN_OR_RETURN(regex, Regex::Compile(kGpt2Pattern, /*literal=*/false));
      }
      return MakeByteLevelPreTokenizer(add_prefix_space, std::move(regex));
    }
    if (type == "Split") {
      R1_RETURN_IF_ERROR(CheckKeys(json, path, {"type", "pattern", "behavior", "invert"}));
      R1_ASSIGN_OR_RETURN(auto pattern, Pattern(json, path));
      R1_ASSIGN_OR_RETURN(SplitBehavior behavior, Behavior(json, path));
      R1_ASSIGN_OR_RETURN(bool invert, Bool(json, path, "invert", false));
      return MakeSplitPreTokenizer(std::move(pattern), behavior, invert);
    }
    if (type == "Digits") {
      R1_RETURN_IF_ERROR(CheckKeys(json, path, {"type", "individual_digits"}));
      R1_ASSIGN_OR_RETURN(bool individual, Bool(json, path, "individual_digits", false));
      return MakeDigitsPreTokenizer(individual);
    }
    if (type == "Metaspace") {
      // str_rep is an old serialization detail the reference ignores.
      R1_RETURN_IF_ERROR(CheckKeys(json, path, {"type", "replacement", "prepend_scheme",
                                                "split", "add_prefix_space", "str_rep"}));
      std::string replacement;
      R1_RETURN_IF_ERROR(Char(json, path, "replacement", "\xE2\x96\x81", &replacement).status());
      R1_ASSIGN_OR_RETURN(PrependScheme scheme, Scheme(json, path));
      R1_ASSIGN_OR_RETURN(bool split, Bool(json, path, "split", true));
      return MakeMetaspacePreTokenizer(std::move(replacement), scheme, split);
    }
    if (type == "Sequence") {
      R1_RETURN_IF_ERROR(CheckKeys(json, path, {"type", "pretokenizers"}));
      R1_ASSIGN_OR_RETURN(const Json* list, Array(json, path, "pretokenizers"));
      std::vector<std::unique_ptr<PreTokenizer>> pre_tokenizers;
      for (size_t i = 0; i < list->size(); ++i) {
        R1_ASSIGN_OR_RETURN(auto pre_tokenizer, ParsePreTokenizer(
                                                    (*list)[i], Index(Path(path, "pretokenizers"), i)));
        if (pre_tokenizer != nullptr) pre_tokenizers.push_back(std::move(pre_tokenizer));
      }
      return MakePreTokenizerSequence(std::move(pre_tokenizers));
    }
    return Unsupported(path, type);
  }

  absl::StatusOr<SplitBehavior> Behavior(const Json& json, const std::string& path) const {
    R1_ASSIGN_OR_RETURN(std::string behavior, RequiredString(json, path, "behavior"));
    if (behavior == "Removed") return SplitBehavior::kRemoved;
    if (behavior == "Isolated") return SplitBehavior::kIsolated;
    if (behavior == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
    if (behavior == "MergedWithNext") return SplitBehavior::kMergedWithNext;
    if (behavior == "Contiguous") return SplitBehavior::kContiguous;
    return Error(Path(path, "behavior"), absl::StrCat("\"", behavior, "\" is not supported"));
  }

  absl::StatusOr<std::unique_ptr<Model>> ParseUnigram(const Json& json,
                                                      const std::string& path) const {
    R1_RETURN_IF_ERROR(CheckKeys(json, path, {"type", "unk_id", "vocab", "byte_fallback"}));
    UnigramOptions options;
    R1_ASSIGN_OR_RETURN(int64_t unk_id, Int(json, path, "unk_id", -1));
    options.unk_id = static_cast<int>(std::clamp<int64_t>(unk_id, -1, kMaxTokenId));
    R1_ASSIGN_OR_RETURN(options.byte_fallback, Bool(json, path, "byte_fallback", false));
    R1_ASSIGN_OR_RETURN(const Json* vocab, Array(json, path, "vocab"));
    if (vocab->size() > static_cast<size_t>(kMaxTokenId)) {
      return Error(Path(path, "vocab"), "has too many pieces");
    }
    options.pieces.reserve(vocab->size());
    for (size_t i = 0; i < vocab->size(); ++i) {
      const Json& entry = (*vocab)[i];
      if (!entry.is_array() || entry.size() != 2 || !entry[0].is_string() ||
          !entry[1].is_number()) {
        return Error(Index(Path(path, "vocab"), i), "must be [\"piece\", score]");
      }
      options.pieces.emplace_back(entry[0].get<std::string>(), entry[1].get<double>());
    }
    R1_ASSIGN_OR_RETURN(auto model, UnigramModel::Create(std::move(options), origin_ + ": " + path));
    return std::unique_ptr<Model>(std::move(model));
  }

  absl::StatusOr<std::unique_ptr<Model>> ParseModel(const Json& json,
                                                    const std::string& path) const {
    R1_ASSIGN_OR_RETURN(std::string type, Type(json, path));
    if (type == "Unigram") return ParseUnigram(json, path);
    if (type != "BPE") return Unsupported(path, type);
    R1_RETURN_IF_ERROR(CheckKeys(json, path,
                                 {"type", "dropout", "unk_token", "continuing_subword_prefix",
                                  "end_of_word_suffix", "fuse_unk", "byte_fallback",
                                  "ignore_merges", "vocab", "merges"}));
    auto dropout = json.find("dropout");
    if (dropout != json.end() && !dropout->is_null() &&
        !(dropout->is_number() && dropout->get<double>() == 0.0)) {
      return Error(Path(path, "dropout"), "BPE dropout is not supported (must be null)");
    }
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
      R1_ASSIGN_OR_RETURN(std::string affix, String(json, path, key, ""));
      if (!affix.empty()) return Error(Path(path, key), "is not supported (must be null)");
    }
    BpeOptions options;
    R1_ASSIGN_OR_RETURN(options.unk_token, String(json, path, "unk_token", ""));
    R1_ASSIGN_OR_RETURN(options.fuse_unk, Bool(json, path, "fuse_unk", false));
    R1_ASSIGN_OR_RETURN(options.byte_fallback, Bool(json, path, "byte_fallback", false));
    R1_ASSIGN_OR_RETURN(options.ignore_merges, Bool(json, path, "ignore_merges", false));

    auto vocab = json.find("vocab");
    if (vocab == json.end()) return Error(Path(path, "vocab"), "is missing");
    if (!vocab->is_object()) return Error(Path(path, "vocab"), "must be an object");
    options.vocab.reserve(vocab->size());
    for (const auto& item : vocab->items()) {
      if (!item.value().is_number_integer() || item.value().get<int64_t>() < 0 ||
          item.value().get<int64_t>() > kMaxTokenId) {
        return Error(Path(Path(path, "vocab"), item.key().c_str()),
                     absl::StrCat("must be an integer id in [0, ", kMaxTokenId, "]"));
      }
      options.vocab.emplace(item.key(), item.value().get<int>());
    }

    R1_ASSIGN_OR_RETURN(const Json* merges, Array(json, path, "merges"));
    options.merges.reserve(merges->size());
    const std::string merges_path = Path(path, "merges");
    for (size_t i = 0; i < merges->size(); ++i) {
      const Json& merge = (*merges)[i];
      // Both forms exist in released files: "a b" (older) and ["a", "b"].
      if (merge.is_string()) {
        const std::string text = merge.get<std::string>();
        const size_t space = text.find(' ');
        if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos) {
          return Error(Index(merges_path, i), "must be two tokens separated by one space");
        }
        options.merges.emplace_back(text.substr(0, space), text.substr(space + 1));
      } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() &&
                 merge[1].is_string()) {
        options.merges.emplace_back(merge[0].get<std::string>(), merge[1].get<std::string>());
      } else {
        return Error(Index(merges_path, i), "must be \"a b\" or [\"a\", \"b\"]");
      }
    }
    R1_ASSIGN_OR_RETURN(auto model, BpeModel::Create(std::move(options), origin_ + ": " + path));
    return std::unique_ptr<Model>(std::move(model));
  }

  absl::Status ParseTemplate(const Json& json, const std::string& path, bool is_pair,
                             const Json& special_tokens, Template* out) const {
    if (!json.is_array()) return Error(path, "must be an array");
    for (size_t i = 0; i < json.size(); ++i) {
      const std::string item_path = Index(path, i);
      const Json& item = json[i];
      R1_RETURN_IF_ERROR(ExpectObject(item, item_path));
      R1_RETURN_IF_ERROR(CheckKeys(item, item_path, {"SpecialToken", "Sequence"}));
      if (item.size() != 1) return Error(item_path, "must hold one SpecialToken or Sequence");
      Template::Item parsed;
      if (item.contains("Sequence")) {
        const std::string sequence_path = Path(item_path, "Sequence");
        R1_RETURN_IF_ERROR(ExpectObject(item["Sequence"], sequence_path));
        R1_RETURN_IF_ERROR(CheckKeys(item["Sequence"], sequence_path, {"id", "type_id"}));
        R1_ASSIGN_OR_RETURN(std::string id, RequiredString(item["Sequence"], sequence_path, "id"));
        if (id != "A" && !(is_pair && id == "B")) {
          return Error(Path(sequence_path, "id"),
                       absl::StrCat("\"", id, "\" is not a sequence of this template"));
        }
        parsed.is_sequence = true;
      } else {
        const std::string special_path = Path(item_path, "SpecialToken");
        R1_RETURN_IF_ERROR(ExpectObject(item["SpecialToken"], special_path));
        R1_RETURN_IF_ERROR(CheckKeys(item["SpecialToken"], special_path, {"id", "type_id"}));
        R1_ASSIGN_OR_RETURN(std::string id,
                            RequiredString(item["SpecialToken"], special_path, "id"));
        auto it = special_tokens.find(id);
        if (it == special_tokens.end()) {
          return Error(Path(special_path, "id"),
                       absl::StrCat("\"", id, "\" is not in special_tokens"));
        }
        parsed.ids = it->get<std::vector<int>>();
      }
      out->items.push_back(std::move(parsed));
    }
    return absl::OkStatus();
  }

  // Appends the templates this post-processor applies (ByteLevel: none).
  absl::Status ParsePostProcessor(const Json& json, const std::string& path,
                                  std::vector<Template>* templates) const {
    if (json.is_null()) return absl::OkStatus();
    R1_ASSIGN_OR_RETURN(std::string type, Type(json, path));
    if (type == "ByteLevel") {
      // Only offsets change; ids pass through.
      return CheckKeys(json, path, {"type", "add_prefix_space", "trim_offsets", "use_regex"});
    }
    if (type == "Sequence") {
      R1_RETURN_IF_ERROR(CheckKeys(json, path, {"type", "processors"}));
      R1_ASSIGN_OR_RETURN(const Json* list, Array(json, path, "processors"));
      for (size_t i = 0; i < list->size(); ++i) {
        R1_RETURN_IF_ERROR(
            ParsePostProcessor((*list)[i], Index(Path(path, "processors"), i), templates));
      }
      return absl::OkStatus();
    }
    if (type == "TemplateProcessing") {
      R1_RETURN_IF_ERROR(CheckKeys(json, path, {"type", "single", "pair", "special_tokens"}));
      // special_tokens: {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}, ...}
      const std::string specials_path = Path(path, "special_tokens");
      Json special_ids = Json::object();
      auto specials = json.find("special_tokens");
      if (specials != json.end() && !specials->is_null()) {
        R1_RETURN_IF_ERROR(ExpectObject(*specials, specials_path));
        for (const auto& item : specials->items()) {
          const std::string item_path = Path(specials_path, item.key().c_str());
          R1_RETURN_IF_ERROR(ExpectObject(item.value(), item_path));
          R1_RETURN_IF_ERROR(CheckKeys(item.value(), item_path, {"id", "ids", "tokens"}));
          R1_ASSIGN_OR_RETURN(const Json* ids, Array(item.value(), item_path, "ids"));
          for (const Json& id : *ids) {
            if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
                id.get<int64_t>() > kMaxTokenId) {
              return Error(Path(item_path, "ids"), "must hold non-negative integer ids");
            }
          }
          special_ids[item.key()] = *ids;
        }
      }
      auto single = json.find("single");
      if (single == json.end()) return Error(Path(path, "single"), "is missing");
      Template parsed;
      R1_RETURN_IF_ERROR(
          ParseTemplate(*single, Path(path, "single"), /*is_pair=*/false, special_ids, &parsed));
      // Only single sequences are encoded; the pair template is checked anyway.
      auto pair = json.find("pair");
      if (pair != json.end() && !pair->is_null()) {
        Template unused;
        R1_RETURN_IF_ERROR(
            ParseTemplate(*pair, Path(path, "pair"), /*is_pair=*/true, special_ids, &unused));
      }
      templates->push_back(std::move(parsed));
      return absl::OkStatus();
    }
    return Unsupported(path, type);
  }

  absl::StatusOr<std::unique_ptr<Decoder>> ParseDecoder(const Json& json,
                                                        const std::string& path) const {
    if (json.is_null()) return std::unique_ptr<Decoder>();
    R1_ASSIGN_OR_RETURN(std::string type, Type(json, path));
    if (type == "ByteLevel") {
      R1_RETURN_IF_ERROR(
          CheckKeys(json, path, {"type", "add_prefix_space", "trim_offsets", "use_regex"}));
      return MakeByteLevelDecoder();
    }
    if (type == "ByteFallback") {
      R1_RETURN_IF_ERROR(CheckKeys(json, path, {"type"}));
      return MakeByteFallbackDecoder();
    }
    if (type == "Fuse") {
      R1_RETURN_IF_ERROR(CheckKeys(json, path, {"type"}));
      return MakeFuseDecoder();
    }
    if (type == "Strip") {
      R1_RETURN_IF_ERROR(CheckKeys(json, path, {"type", "content", "start", "stop"}));
      R1_ASSIGN_OR_RETURN(int32_t content, Char(json, path, "content", " ", nullptr));
      R1_ASSIGN_OR_RETURN(int64_t start, Int(json, path, "start", 0));
      R1_ASSIGN_OR_RETURN(int64_t stop, Int(json, path, "stop", 0));
      if (start < 0 || stop < 0 || start > (1 << 20) || stop > (1 << 20)) {
        return Error(path, "start and stop must be small non-negative counts");
      }
      return MakeStripDecoder(content, static_cast<int>(start), static_cast<int>(stop));
    }
    if (type == "Replace") {
      R1_RETURN_IF_ERROR(CheckKeys(json, path, {"type", "pattern", "content"}));
      R1_ASSIGN_OR_RETURN(auto pattern, Pattern(json, path));
      R1_ASSIGN_OR_RETURN(std::string content, RequiredString(json, path, "content"));
      return MakeReplaceDecoder(std::move(pattern), std::move(content));
    }
    if (type == "Metaspace") {
      R1_RETURN_IF_ERROR(CheckKeys(json, path, {"type", "replacement", "prepend_scheme",
                                                "split", "add_prefix_space", "str_rep"}));
      R1_ASSIGN_OR_RETURN(int32_t replacement,
                          Char(json, path, "replacement", "\xE2\x96\x81", nullptr));
      R1_ASSIGN_OR_RETURN(PrependScheme scheme, Scheme(json, path));
      return MakeMetaspaceDecoder(replacement, scheme);
    }
    if (type == "Sequence") {
      R1_RETURN_IF_ERROR(CheckKeys(json, path, {"type", "decoders"}));
      R1_ASSIGN_OR_RETURN(const Json* list, Array(json, path, "decoders"));
      std::vector<std::unique_ptr<Decoder>> decoders;
      for (size_t i = 0; i < list->size(); ++i) {
        R1_ASSIGN_OR_RETURN(auto decoder,
                            ParseDecoder((*list)[i], Index(Path(path, "decoders"), i)));
        if (decoder != nullptr) decoders.push_back(std::move(decoder));
      }
      return MakeDecoderSequence(std::move(decoders));
    }
    return Unsupported(path, type);
  }

  absl::Status ParseAddedTokens(const Json& root, Pipeline* pipeline) const {
    auto list = root.find("added_tokens");
    if (list == root.end() || list->is_null()) return absl::OkStatus();
    if (!list->is_array()) return Error("added_tokens", "must be an array");
    for (size_t i = 0; i < list->size(); ++i) {
      const std::string path = Index("added_tokens", i);
      const Json& item = (*list)[i];
      R1_RETURN_IF_ERROR(ExpectObject(item, path));
      R1_RETURN_IF_ERROR(CheckKeys(
          item, path, {"id", "content", "single_word", "lstrip", "rstrip", "normalized", "special"}));
      HfAddedToken token;
      R1_ASSIGN_OR_RETURN(int64_t id, Int(item, path, "id", std::nullopt));
      if (id < 0 || id > kMaxTokenId) {
        return Error(Path(path, "id"), absl::StrCat("must be in [0, ", kMaxTokenId, "]"));
      }
      token.id = static_cast<int>(id);
      R1_ASSIGN_OR_RETURN(token.content, RequiredString(item, path, "content"));
      R1_ASSIGN_OR_RETURN(token.special, Bool(item, path, "special", false));
      R1_ASSIGN_OR_RETURN(token.single_word, Bool(item, path, "single_word", false));
      R1_ASSIGN_OR_RETURN(token.lstrip, Bool(item, path, "lstrip", false));
      R1_ASSIGN_OR_RETURN(token.rstrip, Bool(item, path, "rstrip", false));
      R1_ASSIGN_OR_RETURN(token.normalized, Bool(item, path, "normalized", !token.special));
      // The reference ignores empty added tokens; a repeated one keeps its first entry.
      if (token.content.empty() || pipeline->added_by_content.count(token.content) > 0) continue;
      if (pipeline->added_by_id.count(token.id) > 0) {
        return Error(Path(path, "id"), absl::StrCat("id ", token.id, " is used twice"));
      }
      pipeline->added_by_content[token.content] = -1;  // indexed below
      pipeline->added_by_id[token.id] = -1;
      pipeline->added_tokens.push_back(std::move(token));
    }
    std::sort(pipeline->added_tokens.begin(), pipeline->added_tokens.end(),
              [](const HfAddedToken& a, const HfAddedToken& b) { return a.id < b.id; });
    for (size_t i = 0; i < pipeline->added_tokens.size(); ++i) {
      const HfAddedToken& token = pipeline->added_tokens[i];
      pipeline->added_by_content[token.content] = static_cast<int>(i);
      pipeline->added_by_id[token.id] = static_cast<int>(i);
      if (token.normalized) {
        // Matched in normalized text, so in its own normalized form.
        const std::string content = pipeline->normalizer != nullptr
                                        ? pipeline->normalizer->Normalize(token.content)
                                        : token.content;
        if (!content.empty()) pipeline->normalized_trie.Add(content, static_cast<int>(i));
      } else {
        pipeline->raw_trie.Add(token.content, static_cast<int>(i));
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::shared_ptr<const Pipeline>> Parse(absl::string_view text) const {
    Json root;
    try {
      root = Json::parse(text.begin(), text.end());
    } catch (const Json::parse_error& e) {
      return absl::InvalidArgumentError(absl::StrCat(origin_, ": not valid JSON: ", e.what()));
    }
    if (!root.is_object()) return Error("(root)", "must be an object");
    R1_RETURN_IF_ERROR(CheckKeys(root, "(root)",
                                 {"version", "truncation", "padding", "added_tokens", "normalizer",
                                  "pre_tokenizer", "model", "post_processor", "decoder"}));
    for (const char* key : {"truncation", "padding"}) {
      auto it = root.find(key);
      if (it != root.end() && !it->is_null()) {
        return Error(key, "is not supported (must be null): it would change encode's ids");
      }
    }
    auto pipeline = std::make_shared<Pipeline>();
    auto field = [&](const char* key) -> const Json& {
      static const Json* null_json = new Json(nullptr);
      auto it = root.find(key);
      return it == root.end() ? *null_json : *it;
    };
    R1_ASSIGN_OR_RETURN(pipeline->normalizer, ParseNormalizer(field("normalizer"), "normalizer"));
    R1_ASSIGN_OR_RETURN(pipeline->pre_tokenizer,
                        ParsePreTokenizer(field("pre_tokenizer"), "pre_tokenizer"));
    if (!root.contains("model")) return Error("model", "is missing");
    R1_ASSIGN_OR_RETURN(pipeline->model, ParseModel(root["model"], "model"));
    R1_RETURN_IF_ERROR(
        ParsePostProcessor(field("post_processor"), "post_processor", &pipeline->templates));
    R1_ASSIGN_OR_RETURN(pipeline->decoder, ParseDecoder(field("decoder"), "decoder"));
    R1_RETURN_IF_ERROR(ParseAddedTokens(root, pipeline.get()));

    int max_id = -1;
    for (const auto& [token, id] : pipeline->model->vocab()) max_id = std::max(max_id, id);
    for (const HfAddedToken& token : pipeline->added_tokens) max_id = std::max(max_id, token.id);
    pipeline->vocab_size = max_id + 1;
    pipeline->id_to_model_token.assign(pipeline->vocab_size, std::string());
    for (const auto& [token, id] : pipeline->model->vocab()) pipeline->id_to_model_token[id] = token;
    return std::shared_ptr<const Pipeline>(std::move(pipeline));
  }

 private:
  std::string origin_;
};

// ---- Encoding --------------------------------------------------------------

// The code point that ends just before `pos`, or -1 (none, or invalid).
int32_t CodePointBefore(absl::string_view text, size_t pos) {
  if (pos == 0) return -1;
  size_t start = pos - 1;
  while (start > 0 && pos - start < 4 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) {
    --start;
  }
  int len;
  const int32_t cp = utf8::NextCodePoint(text, start, &len);
  return start + len == pos ? cp : -1;
}

// Cuts `text` at the added tokens of `trie` as the reference does
// (leftmost-longest, then single_word, lstrip, rstrip) and calls
// emit(begin, end, index of the added token or -1) over the whole text.
template <typename Emit>
void SplitAtAddedTokens(const Pipeline& pipeline, const TokenTrie& trie, absl::string_view text,
                        Emit&& emit) {
  size_t emitted = 0;  // text before this is emitted
  size_t pos = 0;
  while (pos < text.size()) {
    size_t length = 0;
    const int index = trie.LongestAt(text, pos, &length);
    if (index < 0) {
      ++pos;
      continue;
    }
    size_t start = pos;
    size_t stop = pos + length;
    // The search resumes after this match even when single_word rejects it.
    pos = stop;
    const HfAddedToken& token = pipeline.added_tokens[index];
    if (token.single_word) {
      int len;
      const bool word_before = IsWordChar(CodePointBefore(text, start));
      const bool word_after =
          stop < text.size() && IsWordChar(utf8::NextCodePoint(text, stop, &len));
      if (word_before || word_after) continue;
    }
    if (token.lstrip) {
      while (start > emitted) {
        const int32_t cp = CodePointBefore(text, start);
        if (!IsWhitespace(cp)) break;
        std::string encoded;
        utf8::AppendCodePoint(cp, &encoded);
        start -= encoded.size();
      }
      start = std::max(start, emitted);
    }
    if (token.rstrip) {
      while (stop < text.size()) {
        int len;
        if (!IsWhitespace(utf8::NextCodePoint(text, stop, &len))) break;
        stop += len;
      }
      pos = stop;
    }
    if (emitted < start) emit(emitted, start, -1);
    emit(start, stop, index);
    emitted = stop;
  }
  if (emitted < text.size()) emit(emitted, text.size(), -1);
}

void EncodeSection(const Pipeline& pipeline, std::string text, bool at_start,
                   std::vector<int>* ids) {
  if (text.empty()) return;
  std::vector<Piece> pieces;
  pieces.push_back({std::move(text), at_start});
  if (pipeline.pre_tokenizer != nullptr) pipeline.pre_tokenizer->PreTokenize(&pieces);
  for (const Piece& piece : pieces) pipeline.model->Encode(piece.text, ids);
}

}  // namespace

// ---- TokenTrie ---------------------------------------------------------------

namespace hf_internal {

TokenTrie::TokenTrie() : nodes_(1) { std::fill(std::begin(first_byte_), std::end(first_byte_), false); }

void TokenTrie::Add(absl::string_view content, int value) {
  if (content.empty()) return;
  first_byte_[static_cast<unsigned char>(content[0])] = true;
  int node = 0;
  for (char c : content) {
    const auto byte = static_cast<unsigned char>(c);
    auto& children = nodes_[node].children;
    auto it = std::lower_bound(children.begin(), children.end(), std::make_pair(byte, 0));
    if (it != children.end() && it->first == byte) {
      node = it->second;
    } else {
      const int child = static_cast<int>(nodes_.size());
      children.insert(it, {byte, child});
      nodes_.emplace_back();  // invalidates `children`; not used after
      node = child;
    }
  }
  if (nodes_[node].value < 0) nodes_[node].value = value;
}

int TokenTrie::Child(int node, unsigned char byte) const {
  const auto& children = nodes_[node].children;
  auto it = std::lower_bound(children.begin(), children.end(), std::make_pair(byte, 0));
  return (it != children.end() && it->first == byte) ? it->second : -1;
}

int TokenTrie::LongestAt(absl::string_view text, size_t pos, size_t* length) const {
  if (!first_byte_[static_cast<unsigned char>(text[pos])]) return -1;
  int node = 0;
  int best = -1;
  for (size_t i = pos; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    const auto& children = nodes_[node].children;
    auto it = std::lower_bound(children.begin(), children.end(), std::make_pair(byte, 0));
    if (it == children.end() || it->first != byte) break;
    node = it->second;
    if (nodes_[node].value >= 0) {
      best = nodes_[node].value;
      *length = i + 1 - pos;
    }
  }
  return best;
}

}  // namespace hf_internal

// ---- HfTokenizer -------------------------------------------------------------

HfTokenizer::HfTokenizer(std::shared_ptr<const Pipeline> pipeline)
    : pipeline_(std::move(pipeline)) {}

absl::StatusOr<HfTokenizer> HfTokenizer::Load(const std::string& path) {
  R1_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return FromJson(text, path);
}

absl::StatusOr<HfTokenizer> HfTokenizer::FromJson(absl::string_view json,
                                                  const std::string& origin) {
  R1_ASSIGN_OR_RETURN(std::shared_ptr<const Pipeline> pipeline, Parser(origin).Parse(json));
  return HfTokenizer(std::move(pipeline));
}

std::vector<int> HfTokenizer::Encode(absl::string_view text, bool add_special_tokens) const {
  const Pipeline& p = *pipeline_;
  std::vector<int> ids;
  ids.reserve(text.size() / 3 + 4);
  // 1. Added tokens matched in the raw text; 2. the rest normalized, then
  // normalized added tokens matched in it; 3. pre-tokenizer and model.
  SplitAtAddedTokens(p, p.raw_trie, text, [&](size_t begin, size_t end, int added) {
    if (added >= 0) {
      ids.push_back(p.added_tokens[added].id);
      return;
    }
    const bool at_start = begin == 0;
    std::string section(text.substr(begin, end - begin));
    if (p.normalizer != nullptr) section = p.normalizer->Normalize(std::move(section));
    if (p.normalized_trie.empty()) {
      EncodeSection(p, std::move(section), at_start, &ids);
      return;
    }
    SplitAtAddedTokens(p, p.normalized_trie, section,
                       [&](size_t sub_begin, size_t sub_end, int sub_added) {
                         if (sub_added >= 0) {
                           ids.push_back(p.added_tokens[sub_added].id);
                         } else {
                           EncodeSection(p, section.substr(sub_begin, sub_end - sub_begin),
                                         at_start && sub_begin == 0, &ids);
                         }
                       });
  });
  if (add_special_tokens) {
    for (const hf_internal::Template& applied : p.templates) {
      std::vector<int> wrapped;
      wrapped.reserve(ids.size() + 4);
      for (const auto& item : applied.items) {
        if (item.is_sequence) {
          wrapped.insert(wrapped.end(), ids.begin(), ids.end());
        } else {
          wrapped.insert(wrapped.end(), item.ids.begin(), item.ids.end());
        }
      }
      ids = std::move(wrapped);
    }
  }
  return ids;
}

absl::StatusOr<std::string> HfTokenizer::DecodeImpl(const std::vector<int>& ids,
                                                    bool skip_special_tokens,
                                                    bool repair_utf8) const {
  const Pipeline& p = *pipeline_;
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    const int id = ids[i];
    auto added = p.added_by_id.find(id);
    if (added != p.added_by_id.end()) {
      const HfAddedToken& token = p.added_tokens[added->second];
      if (!(skip_special_tokens && token.special)) tokens.push_back(token.content);
      continue;
    }
    if (id < 0 || id >= p.vocab_size || p.id_to_model_token[id].empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "token id ", id, " at position ", i, " is outside the vocabulary (size ",
          p.vocab_size, ")"));
    }
    tokens.push_back(p.id_to_model_token[id]);
  }
  if (p.decoder == nullptr) return absl::StrJoin(tokens, " ");
  p.decoder->DecodeChain(&tokens, repair_utf8);
  return absl::StrJoin(tokens, "");
}

absl::StatusOr<std::string> HfTokenizer::Decode(const std::vector<int>& ids,
                                                bool skip_special_tokens) const {
  return DecodeImpl(ids, skip_special_tokens, /*repair_utf8=*/true);
}

absl::StatusOr<std::string> HfTokenizer::DecodeBytes(const std::vector<int>& ids,
                                                     bool skip_special_tokens) const {
  return DecodeImpl(ids, skip_special_tokens, /*repair_utf8=*/false);
}

int HfTokenizer::vocab_size() const { return pipeline_->vocab_size; }

std::optional<int> HfTokenizer::TokenToId(absl::string_view token) const {
  const std::string key(token);
  auto added = pipeline_->added_by_content.find(key);
  if (added != pipeline_->added_by_content.end()) {
    return pipeline_->added_tokens[added->second].id;
  }
  auto it = pipeline_->model->vocab().find(key);
  if (it != pipeline_->model->vocab().end()) return it->second;
  return std::nullopt;
}

std::string HfTokenizer::IdToToken(int id) const {
  auto added = pipeline_->added_by_id.find(id);
  if (added != pipeline_->added_by_id.end()) return pipeline_->added_tokens[added->second].content;
  if (id < 0 || id >= pipeline_->vocab_size) return "";
  return pipeline_->id_to_model_token[id];
}

bool HfTokenizer::IsSpecial(int id) const {
  auto added = pipeline_->added_by_id.find(id);
  return added != pipeline_->added_by_id.end() &&
         pipeline_->added_tokens[added->second].special;
}

const std::vector<HfAddedToken>& HfTokenizer::added_tokens() const {
  return pipeline_->added_tokens;
}

}  // namespace r1
