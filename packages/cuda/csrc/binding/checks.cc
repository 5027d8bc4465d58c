#include "binding/checks.h"

#include <cmath>
#include <string>

namespace fa::binding {

std::string describe(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? "true" : "false";
  if (v.IsNumber()) {
    const double d = v.As<Napi::Number>().DoubleValue();
    if (std::isnan(d)) return "NaN";
    std::string s = std::to_string(d);
    if (d == std::floor(d) && std::fabs(d) < 1e15) s = std::to_string(static_cast<long long>(d));
    return s;
  }
  if (v.IsString()) return "a string";
  if (v.IsFunction()) return "a function";
  if (v.IsTypedArray()) {
    const auto ta = v.As<Napi::TypedArray>();
    static const char* kNames[] = {"Int8Array",   "Uint8Array",   "Uint8ClampedArray", "Int16Array",
                                   "Uint16Array", "Int32Array",   "Uint32Array",       "Float32Array",
                                   "Float64Array", "BigInt64Array", "BigUint64Array"};
    const int t = static_cast<int>(ta.TypedArrayType());
    const char* name = t >= 0 && t < 11 ? kNames[t] : "a typed array";
    return std::string(name) + "(" + std::to_string(ta.ElementLength()) + ")";
  }
  if (v.IsArray()) return "an array";
  if (v.IsObject()) return "an object";
  return "a value of another type";
}

[[noreturn]] void fail(Napi::Env env, const std::string& argument, const std::string& expected,
                       const std::string& received, bool range) {
  const std::string message = "Expected " + expected + " for `" + argument + "`, received " + received + ".";
  auto decorate = [&](Napi::Error error) {
    error.Set("code", Napi::String::New(env, "E_ADDON_ARGUMENT"));
    error.Set("argument", Napi::String::New(env, argument));
    throw error;
  };
  if (range) decorate(Napi::RangeError::New(env, message));
  decorate(Napi::TypeError::New(env, message));
  throw;  // unreachable: decorate always throws
}

double get_number(const Napi::Object& o, const char* name) {
  const Napi::Value v = o.Get(name);
  if (!v.IsNumber()) fail(o.Env(), name, "a number", describe(v));
  return v.As<Napi::Number>().DoubleValue();
}

long long integer_in(Napi::Env env, const std::string& name, const Napi::Value& v, double min, double max) {
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : std::nan("");
  if (!(std::isfinite(d) && d == std::floor(d) && d >= min && d <= max)) {
    fail(env, name,
         "an integer in [" + std::to_string(static_cast<long long>(min)) + ", " +
             std::to_string(static_cast<long long>(max)) + "]",
         describe(v), v.IsNumber());
  }
  return static_cast<long long>(d);
}

long long get_integer(const Napi::Object& o, const char* name, double min, double max) {
  return integer_in(o.Env(), name, o.Get(name), min, max);
}

bool get_bool(const Napi::Object& o, const char* name) {
  const Napi::Value v = o.Get(name);
  if (!v.IsBoolean()) fail(o.Env(), name, "a boolean", describe(v));
  return v.As<Napi::Boolean>().Value();
}

Napi::Object get_object(const Napi::Value& v, const char* name) {
  if (!v.IsObject() || v.IsArray() || v.IsFunction()) fail(v.Env(), name, "an object", describe(v));
  return v.As<Napi::Object>();
}

long long get_arg_integer(const Napi::CallbackInfo& info, size_t index, const char* name, double min, double max) {
  return integer_in(info.Env(), name, info[index], min, max);
}

std::string cuda_message(cudaError_t err) {
  return std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err);
}

}  // namespace fa::binding
