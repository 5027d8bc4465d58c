#include "binding/selftest.h"

#include <cstdint>
#include <limits>

#include "binding/checks.h"
#include "launch.h"

namespace fa::binding {

namespace {

uint32_t arg_u32(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return static_cast<uint32_t>(get_arg_integer(info, i, name, 0, 4294967295.0));
}
int arg_int(const Napi::CallbackInfo& info, size_t i, const char* name, double min) {
  return static_cast<int>(get_arg_integer(info, i, name, min, std::numeric_limits<int32_t>::max()));
}

Napi::Value Philox(const Napi::CallbackInfo& info) {
  const uint32_t counter[4] = {arg_u32(info, 0, "c0"), arg_u32(info, 1, "c1"), arg_u32(info, 2, "c2"),
                               arg_u32(info, 3, "c3")};
  const uint32_t key[2] = {arg_u32(info, 4, "k0"), arg_u32(info, 5, "k1")};
  uint32_t out[4];
  fa::philox_host(counter, key, out);
  Napi::Uint32Array result = Napi::Uint32Array::New(info.Env(), 4);
  for (int i = 0; i < 4; ++i) result[i] = out[i];
  return result;
}

Napi::Value DropoutKeep(const Napi::CallbackInfo& info) {
  const bool pair = info.Length() > 7 && info[7].IsBoolean() && info[7].As<Napi::Boolean>().Value();
  const uint32_t lo = arg_u32(info, 0, "seedLo"), hi = arg_u32(info, 1, "seedHi"), thr = arg_u32(info, 2, "threshold");
  const int b = arg_int(info, 3, "b", 0), h = arg_int(info, 4, "h", 0), i = arg_int(info, 5, "i", 0), j = arg_int(info, 6, "j", 0);
  if (pair) return Napi::Number::New(info.Env(), fa::dropout_keep_pair_host(lo, hi, thr, b, h, i, j & ~1));
  return Napi::Boolean::New(info.Env(), fa::dropout_keep_host(lo, hi, thr, b, h, i, j));
}

Napi::Value Span(const Napi::CallbackInfo& info, bool keys) {
  int out[2];
  const int a0 = arg_int(info, 0, "start", 0), a1 = arg_int(info, 1, "end", 0), lq = arg_int(info, 2, "lenQ", 0),
            lk = arg_int(info, 3, "lenK", 0), left = arg_int(info, 4, "windowLeft", -1),
            right = arg_int(info, 5, "windowRight", -1);
  if (keys) fa::key_span_host(a0, a1, lq, lk, left, right, out);
  else fa::row_span_host(a0, a1, lq, lk, left, right, out);
  Napi::Int32Array result = Napi::Int32Array::New(info.Env(), 2);
  result[0] = out[0];
  result[1] = out[1];
  return result;
}
Napi::Value GemmLayout(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), fa::gemm_layout_report()); }
Napi::Value KeySpan(const Napi::CallbackInfo& info) { return Span(info, true); }
Napi::Value RowSpan(const Napi::CallbackInfo& info) { return Span(info, false); }

}  // namespace

Napi::Object selftest_exports(Napi::Env env) {
  Napi::Object selftest = Napi::Object::New(env);
  selftest.Set("philox", Napi::Function::New<Philox>(env, "philox"));
  selftest.Set("dropoutKeep", Napi::Function::New<DropoutKeep>(env, "dropoutKeep"));
  selftest.Set("keySpan", Napi::Function::New<KeySpan>(env, "keySpan"));
  selftest.Set("rowSpan", Napi::Function::New<RowSpan>(env, "rowSpan"));
  selftest.Set("gemmLayout", Napi::Function::New<GemmLayout>(env, "gemmLayout"));
  return selftest;
}

}  // namespace fa::binding
