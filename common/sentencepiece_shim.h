/* Plain C interface over SentencePiece, built as libr1_sentencepiece.so.
 *
 * Why a separate library with a C ABI: Debian's libsentencepiece carries its
 * own copy of protobuf 3.14 and exports its symbols. A process that also loads
 * libprotobuf.so.32 (every LibTorch or gRPC process, and r1 itself for its
 * configs) crashes at start-up if it links SentencePiece directly. The tokenizer
 * (common/tokenizer.cc) loads this library with
 * dlopen(RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND), so SentencePiece binds to its
 * own protobuf and nothing else sees it. Keep this header free of C++ types.
 *
 * Conventions: functions returning int return 0 on success and otherwise write
 * a NUL-terminated message into `error` (capacity `error_size`). Buffers
 * returned through out-parameters are malloc'ed; release them with
 * r1spm_free_buffer. */
#ifndef R1_COMMON_SENTENCEPIECE_SHIM_H_
#define R1_COMMON_SENTENCEPIECE_SHIM_H_

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct R1SpmProcessor R1SpmProcessor;

/* Bumped whenever a signature below changes; the loader checks it. */
#define R1SPM_ABI_VERSION 1
int r1spm_abi_version(void);

R1SpmProcessor* r1spm_load(const char* model_path, char* error, size_t error_size);
/* Loads a model from its serialized bytes (the contents of a .model file). */
R1SpmProcessor* r1spm_load_bytes(const char* bytes, size_t size, char* error, size_t error_size);
void r1spm_free(R1SpmProcessor* processor);
void r1spm_free_buffer(void* buffer);

int r1spm_encode(const R1SpmProcessor* processor, const char* text, size_t text_size, int** ids,
                 size_t* num_ids, char* error, size_t error_size);
int r1spm_decode(const R1SpmProcessor* processor, const int* ids, size_t num_ids, char** text,
                 size_t* text_size, char* error, size_t error_size);

int r1spm_vocab_size(const R1SpmProcessor* processor);
/* The unknown id when `piece` is not in the vocabulary. */
int r1spm_piece_to_id(const R1SpmProcessor* processor, const char* piece, size_t piece_size);
/* Valid while the processor lives; NULL for an out-of-range id. */
const char* r1spm_id_to_piece(const R1SpmProcessor* processor, int id);
/* The piece's score (log probability for unigram, merge rank for BPE); 0
 * for an out-of-range id. */
float r1spm_piece_score(const R1SpmProcessor* processor, int id);
/* The piece's type as in SentencePiece's ModelProto: 1 normal, 2 unknown,
 * 3 control, 4 user defined, 5 unused, 6 byte; 0 for an out-of-range id. */
int r1spm_piece_type(const R1SpmProcessor* processor, int id);
/* which: 0 unk, 1 bos, 2 eos, 3 pad. -1 when the model has none. */
int r1spm_special_id(const R1SpmProcessor* processor, int which);

/* Trains a model from `num_args` key/value pairs of spm_train's options and
 * returns the serialized model in *model (size *model_size). */
int r1spm_train(const char* const* keys, const char* const* values, size_t num_args,
                char** model, size_t* model_size, char* error, size_t error_size);

#ifdef __cplusplus
}
#endif

#endif /* R1_COMMON_SENTENCEPIECE_SHIM_H_ */
