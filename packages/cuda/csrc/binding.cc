// The Node binding's module: the addon's exports, each from the file that owns its job. The binding is the only
// code that includes napi (through binding/napi_setup.h). It validates every argument it is given (buffer handles,
// sizes, dims, cu_seqlens against totals, work lists, dtype codes) on the JS thread BEFORE any device work, and
// throws a JS error naming the argument (`error.argument`, `error.code = 'E_ADDON_ARGUMENT'`) that the TS layer
// turns into an FaError. Device work (copies, kernels, the wait for them) runs on libuv's thread pool, so the
// event loop only ever validates and enqueues; each call resolves its promise when the GPU is done.
//
//   binding/checks      argument checks and the errors they throw
//   binding/buffers     DeviceBuffer: one allocation per JS object, its lifetime while calls use it; alloc()
//   binding/problem     an attention call's arguments, checked and unpacked into fa::AttnParams
//   binding/workers     the async workers: forward, backward, upload, download, interleave
//   binding/devices     device count, properties, runtime and driver versions, tile shapes
//   binding/selftest    host builds of device helpers, for the tests
#include "binding/buffers.h"
#include "binding/devices.h"
#include "binding/napi_setup.h"
#include "binding/selftest.h"
#include "binding/workers.h"

namespace {

// Bumped whenever the JS-visible surface changes, so the loader can refuse a stale build with a clear message.
constexpr int kAbiVersion = 4;  // 2: q/k/v layouts in the call arguments; 3: interleave; 4: kernel choice

#ifndef FA_CUDA_ARCHS
#define FA_CUDA_ARCHS "unknown"
#endif

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using namespace fa::binding;
  exports.Set("abiVersion", Napi::Number::New(env, kAbiVersion));
  exports.Set("archs", Napi::String::New(env, FA_CUDA_ARCHS));
  exports.Set("DeviceBuffer", DeviceBuffer::Init(env));
  exports.Set("alloc", Napi::Function::New<Alloc>(env, "alloc"));
  exports.Set("upload", Napi::Function::New<Upload>(env, "upload"));
  exports.Set("download", Napi::Function::New<Download>(env, "download"));
  exports.Set("forward", Napi::Function::New<Forward>(env, "forward"));
  exports.Set("backward", Napi::Function::New<Backward>(env, "backward"));
  exports.Set("interleave", Napi::Function::New<Interleave>(env, "interleave"));
  exports.Set("deviceCount", Napi::Function::New<DeviceCount>(env, "deviceCount"));
  exports.Set("deviceInfo", Napi::Function::New<DeviceInfo>(env, "deviceInfo"));
  exports.Set("versions", Napi::Function::New<Versions>(env, "versions"));
  exports.Set("tileShape", Napi::Function::New<TileShapeOf>(env, "tileShape"));
  exports.Set("selftest", selftest_exports(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(fa_cuda, Init)
