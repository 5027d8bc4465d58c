// Argument checks: every value the binding reads from JS goes through one of these, on the JS thread, before any
// device work. A bad value throws a JS TypeError (RangeError for a value of the right type out of range) with
// `code = 'E_ADDON_ARGUMENT'` and `argument` naming it, which the TS layer turns into an FaError.
#pragma once

#include <cuda_runtime_api.h>

#include <string>
#include <vector>

#include "binding/napi_setup.h"

namespace fa::binding {

// A short description of a JS value for "received ..." ("NaN", "Int32Array(4)", "an object", ...).
std::string describe(const Napi::Value& v);

// Throws "Expected <expected> for `<argument>`, received <received>." as a TypeError, or a RangeError if `range`.
[[noreturn]] void fail(Napi::Env env, const std::string& argument, const std::string& expected,
                       const std::string& received, bool range = false);

// `v` as an integer in [min, max], named `name` in the error: a number outside is a RangeError, anything else a
// TypeError.
long long integer_in(Napi::Env env, const std::string& name, const Napi::Value& v, double min, double max);

// Properties of an argument object.
double get_number(const Napi::Object& o, const char* name);
long long get_integer(const Napi::Object& o, const char* name, double min, double max);
bool get_bool(const Napi::Object& o, const char* name);
Napi::Object get_object(const Napi::Value& v, const char* name);

// A typed array property of exactly `type`, copied: workers must not touch JS memory off the JS thread.
template <typename T>
std::vector<T> get_typed_array(const Napi::Object& o, const char* name, napi_typedarray_type type,
                               const char* type_name) {
  const Napi::Value v = o.Get(name);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) {
    fail(o.Env(), name, std::string("a ") + type_name, describe(v));
  }
  const auto ta = v.As<Napi::TypedArrayOf<T>>();
  return std::vector<T>(ta.Data(), ta.Data() + ta.ElementLength());
}

// Positional arguments.
long long get_arg_integer(const Napi::CallbackInfo& info, size_t index, const char* name, double min, double max);

// "cudaErrorXxx: description", for the messages of device failures.
std::string cuda_message(cudaError_t err);

}  // namespace fa::binding
