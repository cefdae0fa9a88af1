// The translation unit of r1_exe_pch and r1_exe_pch_grpc (model/CMakeLists.txt):
// they exist to build the precompiled header that tests and benchmarks reuse.
int main() { return 0; }
