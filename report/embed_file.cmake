# Writes a C++ source defining `const char SYMBOL[]` in NAMESPACE with the
# bytes of INPUT (NUL-terminated), so a file kept beside the code as itself
# (a script, a style sheet) ships inside the binary. Bytes are written as hex:
# any content survives, with no raw-string delimiter to collide with.
#
#   cmake -DINPUT=<file> -DOUTPUT=<file.cc> -DSYMBOL=<name> -DNAMESPACE=<ns> -P embed_file.cmake
foreach(var INPUT OUTPUT SYMBOL NAMESPACE)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "embed_file.cmake: -D${var}=... is required")
  endif()
endforeach()

file(READ "${INPUT}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
# 16 bytes (80 characters) per line keeps the generated file readable in a diff.
string(REPEAT "0x[0-9a-f][0-9a-f]," 16 sixteen)  # CMake regexes have no {n}
string(REGEX REPLACE "(${sixteen})" "\\1\n  " bytes "${bytes}")
get_filename_component(input_name "${INPUT}" NAME)
set(content "// Generated from ${input_name} by embed_file.cmake at build time; do not edit.
namespace ${NAMESPACE} {
extern const char ${SYMBOL}[];
const char ${SYMBOL}[] = {
  ${bytes}0x00};
}  // namespace ${NAMESPACE}
")
file(WRITE "${OUTPUT}" "${content}")
