// tokenizer.json's decoders: each rewrites the list of token strings
// (tokenizers' decode_chain); the tokenizer joins what the last one leaves.
#include <utility>

#include "absl/strings/str_join.h"
#include "common/hf_tokenizer_internal.h"
#include "common/utf8.h"

namespace r1::hf_internal {

namespace {

constexpr char kReplacementCharacter[] = "\xEF\xBF\xBD";  // U+FFFD

// Bytes of the longest prefix of text[pos..] that could begin a valid
// sequence (at least 1): the "maximal subpart" one U+FFFD replaces.
int MaximalSubpart(absl::string_view text, size_t pos) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data()) + pos;
  const size_t available = text.size() - pos;
  const unsigned lead = s[0];
  int trailing;
  unsigned low = 0x80, high = 0xBF;  // allowed range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    trailing = 1;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    trailing = 2;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    trailing = 3;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return 1;
  }
  int length = 1;
  for (int i = 1; i <= trailing && static_cast<size_t>(i) < available; ++i) {
    const unsigned b = s[i];
    const bool ok = i == 1 ? (b >= low && b <= high) : (b >= 0x80 && b <= 0xBF);
    if (!ok) break;
    ++length;
  }
  return length;
}

class ByteLevelDecoder : public Decoder {
 public:
  void DecodeChain(std::vector<std::string>* tokens, bool repair_utf8) const override {
    std::string bytes;
    for (const std::string& token : *tokens) {
      const size_t token_start = bytes.size();
      bool all_mapped = true;
      size_t pos = 0;
      while (pos < token.size()) {
        int len;
        const int byte = ByteLevelCharToByte(utf8::NextCodePoint(token, pos, &len));
        if (byte < 0) {
          all_mapped = false;
          break;
        }
        bytes.push_back(static_cast<char>(byte));
        pos += len;
      }
      // As the reference: a token with a character outside the byte alphabet
      // (an added token such as "<|im_start|>" is inside it) stands for its
      // own UTF-8 bytes.
      if (!all_mapped) {
        bytes.resize(token_start);
        bytes += token;
      }
    }
    tokens->assign(1, repair_utf8 ? RepairUtf8(bytes) : std::move(bytes));
  }
};

// "<0xNN>" -> NN, else -1.
int ByteToken(const std::string& token) {
  if (token.size() != 6 || token.compare(0, 3, "<0x") != 0 || token[5] != '>') return -1;
  int value = 0;
  for (int i = 3; i < 5; ++i) {
    const char c = token[i];
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else {
      return -1;
    }
    value = value * 16 + digit;
  }
  return value;
}

class ByteFallbackDecoder : public Decoder {
 public:
  void DecodeChain(std::vector<std::string>* tokens, bool repair_utf8) const override {
    std::vector<std::string> out;
    out.reserve(tokens->size());
    std::string pending;  // bytes of consecutive <0xNN> tokens
    auto flush = [&] {
      if (pending.empty()) return;
      if (!repair_utf8 || utf8::IsValid(pending)) {
        out.push_back(std::move(pending));
      } else {
        // As the reference: an invalid run becomes one U+FFFD per byte.
        for (size_t i = 0; i < pending.size(); ++i) out.emplace_back(kReplacementCharacter);
      }
      pending.clear();
    };
    for (std::string& token : *tokens) {
      const int byte = ByteToken(token);
      if (byte >= 0) {
        pending.push_back(static_cast<char>(byte));
      } else {
        flush();
        out.push_back(std::move(token));
      }
    }
    flush();
    *tokens = std::move(out);
  }
};

class FuseDecoder : public Decoder {
 public:
  void DecodeChain(std::vector<std::string>* tokens, bool) const override {
    std::string joined = absl::StrJoin(*tokens, "");
    tokens->assign(1, std::move(joined));
  }
};

class StripDecoder : public Decoder {
 public:
  StripDecoder(int32_t content, int start, int stop)
      : content_(content), start_(start), stop_(stop) {}
  void DecodeChain(std::vector<std::string>* tokens, bool) const override {
    for (std::string& token : *tokens) {
      // Character boundaries of the token.
      std::vector<size_t> starts;
      std::vector<int32_t> chars;
      size_t pos = 0;
      while (pos < token.size()) {
        int len;
        chars.push_back(utf8::NextCodePoint(token, pos, &len));
        starts.push_back(pos);
        pos += len;
      }
      starts.push_back(token.size());
      size_t first = 0;  // in characters
      while (first < static_cast<size_t>(start_) && first < chars.size() &&
             chars[first] == content_) {
        ++first;
      }
      size_t last = chars.size();
      for (int i = 0; i < stop_ && last > first && chars[last - 1] == content_; ++i) --last;
      token = token.substr(starts[first], starts[last] - starts[first]);
    }
  }

 private:
  int32_t content_;
  int start_, stop_;  // at most this many characters from each end
};

class ReplaceDecoder : public Decoder {
 public:
  ReplaceDecoder(std::shared_ptr<const Regex> pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void DecodeChain(std::vector<std::string>* tokens, bool) const override {
    for (std::string& token : *tokens) token = ReplaceAll(*pattern_, token, content_);
  }

 private:
  std::shared_ptr<const Regex> pattern_;
  std::string content_;
};

class MetaspaceDecoder : public Decoder {
 public:
  MetaspaceDecoder(int32_t replacement, PrependScheme scheme)
      : replacement_(replacement), scheme_(scheme) {}
  void DecodeChain(std::vector<std::string>* tokens, bool) const override {
    for (size_t i = 0; i < tokens->size(); ++i) {
      std::string& token = (*tokens)[i];
      // As the reference: in the first token every replacement character is
      // dropped (it stands for the prepended space), elsewhere it is a space.
      const bool drop = i == 0 && scheme_ != PrependScheme::kNever;
      std::string out;
      out.reserve(token.size());
      size_t pos = 0;
      while (pos < token.size()) {
        int len;
        const int32_t cp = utf8::NextCodePoint(token, pos, &len);
        if (cp == replacement_) {
          if (!drop) out.push_back(' ');
        } else {
          out.append(token, pos, len);
        }
        pos += len;
      }
      token = std::move(out);
    }
  }

 private:
  int32_t replacement_;
  PrependScheme scheme_;
};

class DecoderSequence : public Decoder {
 public:
  explicit DecoderSequence(std::vector<std::unique_ptr<Decoder>> decoders)
      : decoders_(std::move(decoders)) {}
  void DecodeChain(std::vector<std::string>* tokens, bool repair_utf8) const override {
    for (const auto& decoder : decoders_) decoder->DecodeChain(tokens, repair_utf8);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> decoders_;
};

}  // namespace

std::string RepairUtf8(absl::string_view bytes) {
  if (utf8::IsValid(bytes)) return std::string(bytes);
  std::string out;
  out.reserve(bytes.size() + 8);
  size_t pos = 0;
  while (pos < bytes.size()) {
    int len;
    if (utf8::NextCodePoint(bytes, pos, &len) >= 0) {
      out.append(bytes.data() + pos, len);
      pos += len;
    } else {
      out += kReplacementCharacter;
      pos += MaximalSubpart(bytes, pos);
    }
  }
  return out;
}

std::unique_ptr<Decoder> MakeByteLevelDecoder() { return std::make_unique<ByteLevelDecoder>(); }
std::unique_ptr<Decoder> MakeByteFallbackDecoder() {
  return std::make_unique<ByteFallbackDecoder>();
}
std::unique_ptr<Decoder> MakeFuseDecoder() { return std::make_unique<FuseDecoder>(); }
std::unique_ptr<Decoder> MakeStripDecoder(int32_t content, int start, int stop) {
  return std::make_unique<StripDecoder>(content, start, stop);
}
std::unique_ptr<Decoder> MakeReplaceDecoder(std::shared_ptr<const Regex> pattern,
                                            std::string content) {
  return std::make_unique<ReplaceDecoder>(std::move(pattern), std::move(content));
}
std::unique_ptr<Decoder> MakeMetaspaceDecoder(int32_t replacement, PrependScheme scheme) {
  return std::make_unique<MetaspaceDecoder>(replacement, scheme);
}
std::unique_ptr<Decoder> MakeDecoderSequence(std::vector<std::unique_ptr<Decoder>> decoders) {
  return std::make_unique<DecoderSequence>(std::move(decoders));
}

}  // namespace r1::hf_internal
