// The Node binding: the only file that includes napi. It validates every argument it is given (buffer handles,
// sizes, dims, cu_seqlens against totals, work lists, dtype codes) on the JS thread BEFORE any device work, and
// throws a JS error naming the argument (`error.argument`, `error.code = 'E_ADDON_ARGUMENT'`) that the TS layer
// turns into an FaError. Device work (copies, kernels, the wait for them) runs on libuv's thread pool, so the
// event loop only ever validates and enqueues; each call resolves its promise when the GPU is done.
#define NAPI_VERSION 8
#define NODE_ADDON_API_DISABLE_DEPRECATED
#define NAPI_CPP_EXCEPTIONS
#include <cuda_runtime_api.h>
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "launch.h"

namespace {

// Bumped whenever the JS-visible surface changes, so the loader can refuse a stale build with a clear message.
constexpr int kAbiVersion = 1;

#ifndef FA_CUDA_ARCHS
#define FA_CUDA_ARCHS "unknown"
#endif

// ---------------------------------------------------------------------------------------------------------------
// Argument checking

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
                       const std::string& received, bool range = false) {
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

long long get_integer(const Napi::Object& o, const char* name, double min, double max) {
  const Napi::Value v = o.Get(name);
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : std::nan("");
  if (!(std::isfinite(d) && d == std::floor(d) && d >= min && d <= max)) {
    fail(o.Env(), name,
         "an integer in [" + std::to_string(static_cast<long long>(min)) + ", " +
             std::to_string(static_cast<long long>(max)) + "]",
         describe(v), v.IsNumber());
  }
  return static_cast<long long>(d);
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

// ---------------------------------------------------------------------------------------------------------------
// Device buffers: a JS object owns one device allocation. free() is idempotent; a buffer still in use by a
// call in flight is freed when that call completes, so a dispose during a call can never free memory a kernel
// still reads.

const napi_type_tag kBufferTag = {0x6661637564616275ULL, 0x6666657231303031ULL};

class DeviceBuffer : public Napi::ObjectWrap<DeviceBuffer> {
 public:
  static Napi::FunctionReference* constructor;

  static Napi::Function Init(Napi::Env env) {
    Napi::Function f = DefineClass(env, "DeviceBuffer",
                                   {InstanceMethod<&DeviceBuffer::Free>("free"),
                                    InstanceAccessor<&DeviceBuffer::Bytes>("bytes"),
                                    InstanceAccessor<&DeviceBuffer::Device>("device"),
                                    InstanceAccessor<&DeviceBuffer::Freed>("freed")});
    constructor = new Napi::FunctionReference(Napi::Persistent(f));
    return f;
  }

  explicit DeviceBuffer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DeviceBuffer>(info) {
    // Only alloc() constructs these (with an internal marker); `new DeviceBuffer()` from JS is refused.
    if (info.Length() != 1 || !info[0].IsExternal()) {
      throw Napi::TypeError::New(info.Env(), "DeviceBuffer cannot be constructed directly; use alloc(device, bytes).");
    }
    info.This().As<Napi::Object>().TypeTag(&kBufferTag);
  }

  ~DeviceBuffer() override { release(); }

  void* ptr = nullptr;
  size_t bytes = 0;
  int device = 0;
  int inflight = 0;
  bool freed = false;
  bool pending_free = false;

  // Stream-ordered free on this thread's stream: unlike cudaFree, it does not wait for the whole device, so a
  // dispose on the JS thread never stalls the event loop behind kernels of other calls. The buffer's own users
  // are done by now: a buffer in use is freed only when its last call has completed (end_use).
  void release() {
    if (ptr != nullptr) {
      int current = 0;
      cudaGetDevice(&current);
      if (current != device) cudaSetDevice(device);
      cudaFreeAsync(ptr, cudaStreamPerThread);
      if (current != device) cudaSetDevice(current);
      ptr = nullptr;
    }
  }

  void end_use() {
    if (--inflight == 0 && pending_free) release();
  }

 private:
  Napi::Value Free(const Napi::CallbackInfo& info) {
    if (!freed) {
      freed = true;
      if (inflight > 0) {
        pending_free = true;
      } else {
        release();
      }
    }
    return info.Env().Undefined();
  }
  Napi::Value Bytes(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(bytes)); }
  Napi::Value Device(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), device); }
  Napi::Value Freed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), freed); }
};

Napi::FunctionReference* DeviceBuffer::constructor = nullptr;

// A live buffer of this addon, on `device`, holding at least `needed` bytes.
DeviceBuffer* get_buffer(const Napi::Value& v, const char* name, int device, double needed) {
  Napi::Env env = v.Env();
  if (!v.IsObject() || !v.As<Napi::Object>().CheckTypeTag(&kBufferTag)) {
    fail(env, name, "a DeviceBuffer from alloc()", describe(v));
  }
  DeviceBuffer* buffer = DeviceBuffer::Unwrap(v.As<Napi::Object>());
  if (buffer == nullptr) fail(env, name, "a DeviceBuffer from alloc()", describe(v));
  if (buffer->freed) fail(env, name, "a live DeviceBuffer", "a freed one");
  if (device >= 0 && buffer->device != device) {
    fail(env, name, "a buffer on device " + std::to_string(device), "one on device " + std::to_string(buffer->device));
  }
  if (static_cast<double>(buffer->bytes) < needed) {
    fail(env, name, "a buffer of at least " + std::to_string(static_cast<long long>(needed)) + " bytes",
         std::to_string(buffer->bytes) + " bytes", true);
  }
  return buffer;
}

// Keeps the buffers of a call alive (a JS reference each) and marks them in use until the call settles.
class BufferUse {
 public:
  void add(DeviceBuffer* buffer) {
    buffer->inflight++;
    refs_.emplace_back(Napi::Persistent(buffer->Value()));
    buffers_.push_back(buffer);
  }
  void end() {
    for (DeviceBuffer* b : buffers_) b->end_use();
    buffers_.clear();
    refs_.clear();
  }

 private:
  std::vector<DeviceBuffer*> buffers_;
  std::vector<Napi::ObjectReference> refs_;
};

void check_distinct(Napi::Env env, const std::vector<std::pair<const char*, DeviceBuffer*>>& outputs,
                    const std::vector<std::pair<const char*, DeviceBuffer*>>& inputs) {
  for (size_t i = 0; i < outputs.size(); ++i) {
    for (size_t j = 0; j < outputs.size(); ++j) {
      if (i != j && outputs[i].second == outputs[j].second) {
        fail(env, outputs[i].first, "a buffer distinct from `" + std::string(outputs[j].first) + "`", "the same buffer");
      }
    }
    for (const auto& in : inputs) {
      if (outputs[i].second == in.second) {
        fail(env, outputs[i].first, "a buffer distinct from the input `" + std::string(in.first) + "`",
             "the same buffer");
      }
    }
  }
}

std::string cuda_message(cudaError_t err) {
  return std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err);
}

// ---------------------------------------------------------------------------------------------------------------
// Attention calls

int element_bytes(int dtype) { return dtype == 0 ? 4 : 2; }

// cu_seqlens: (batch + 1) int32, starting at 0, non-decreasing, ending at `total`.
std::vector<int32_t> get_cu_seqlens(const Napi::Object& o, const char* name, long long batch, long long total) {
  std::vector<int32_t> cu = get_typed_array<int32_t>(o, name, napi_int32_array, "Int32Array");
  Napi::Env env = o.Env();
  if (static_cast<long long>(cu.size()) != batch + 1) {
    fail(env, name, "an Int32Array of length " + std::to_string(batch + 1) + " (batch + 1)",
         "length " + std::to_string(cu.size()), true);
  }
  if (cu[0] != 0) fail(env, name, "cu_seqlens starting at 0", std::to_string(cu[0]), true);
  for (size_t i = 1; i < cu.size(); ++i) {
    if (cu[i] < cu[i - 1]) {
      fail(env, name, "non-decreasing cu_seqlens",
           "[" + std::to_string(i - 1) + "] = " + std::to_string(cu[i - 1]) + " > [" + std::to_string(i) +
               "] = " + std::to_string(cu[i]),
           true);
    }
  }
  if (cu.back() != total) {
    fail(env, name, "cu_seqlens ending at " + std::to_string(total), std::to_string(cu.back()), true);
  }
  return cu;
}

// A work list of (sequence, first row) pairs: every tile of `tile`-row blocks of every sequence exactly once.
std::vector<int32_t> get_work_list(const Napi::Object& o, const char* name, const std::vector<int32_t>& cu,
                                   int tile) {
  std::vector<int32_t> list = get_typed_array<int32_t>(o, name, napi_int32_array, "Int32Array");
  Napi::Env env = o.Env();
  const int batch = static_cast<int>(cu.size()) - 1;
  std::vector<long long> first_tile(batch + 1, 0);
  for (int b = 0; b < batch; ++b) first_tile[b + 1] = first_tile[b] + (cu[b + 1] - cu[b] + tile - 1) / tile;
  if (static_cast<long long>(list.size()) != 2 * first_tile[batch]) {
    fail(env, name,
         "an Int32Array of " + std::to_string(2 * first_tile[batch]) + " entries (one (sequence, start) pair per " +
             std::to_string(tile) + "-row tile)",
         "length " + std::to_string(list.size()), true);
  }
  std::vector<char> seen(static_cast<size_t>(first_tile[batch]), 0);
  for (size_t t = 0; t < list.size() / 2; ++t) {
    const int b = list[2 * t];
    const int start = list[2 * t + 1];
    const std::string where = "entry " + std::to_string(t) + " = (" + std::to_string(b) + ", " + std::to_string(start) + ")";
    if (b < 0 || b >= batch) fail(env, name, "sequence indices in [0, " + std::to_string(batch) + ")", where, true);
    const int len = cu[b + 1] - cu[b];
    if (start < 0 || start >= len || start % tile != 0) {
      fail(env, name, "tile starts that are multiples of " + std::to_string(tile) + " inside the sequence", where, true);
    }
    char& s = seen[static_cast<size_t>(first_tile[b] + start / tile)];
    if (s) fail(env, name, "each tile once", where + " twice", true);
    s = 1;
  }
  return list;
}

// Host arrays a call copies to the device before launching; owned by the worker, so no JS memory is touched off
// the JS thread.
struct HostArrays {
  std::vector<int32_t> cu_q, cu_k, tiles, key_tiles;
  std::vector<float> alibi;
};

struct ParsedCall {
  fa::AttnParams p{};
  HostArrays host;
  int device = 0;
  bool backward = false;
  bool deterministic = false;
  BufferUse use;
};

void parse_problem(const Napi::Object& a, ParsedCall& call, bool backward) {
  Napi::Env env = a.Env();
  fa::AttnParams& p = call.p;
  call.backward = backward;
  call.device = static_cast<int>(get_integer(a, "device", 0, 1 << 20));
  p.dtype = static_cast<int>(get_integer(a, "dtype", 0, 2));
  const long long kIntMax = std::numeric_limits<int32_t>::max();
  const long long batch = get_integer(a, "batch", 0, kIntMax - 1);
  const long long total_q = get_integer(a, "totalQ", 0, kIntMax);
  const long long total_k = get_integer(a, "totalK", 0, kIntMax);
  const long long h = get_integer(a, "numHeads", 1, 1 << 16);
  const long long h_k = get_integer(a, "numHeadsK", 1, 1 << 16);
  if (h % h_k != 0) fail(env, "numHeadsK", "a divisor of numHeads (" + std::to_string(h) + ")", std::to_string(h_k), true);
  const long long dim = get_integer(a, "headDim", 1, fa::kMaxHeadDim);
  const long long dim_v = get_integer(a, "headDimV", 1, fa::kMaxHeadDim);
  p.batch = static_cast<int>(batch);
  p.total_q = static_cast<int>(total_q);
  p.total_k = static_cast<int>(total_k);
  p.h = static_cast<int>(h);
  p.h_k = static_cast<int>(h_k);
  p.dim = static_cast<int>(dim);
  p.dim_v = static_cast<int>(dim_v);

  const double scale = get_number(a, "softmaxScale");
  if (!(std::isfinite(scale) && scale > 0)) fail(env, "softmaxScale", "a finite number > 0", describe(a.Get("softmaxScale")), true);
  p.scale = static_cast<float>(scale);
  const double softcap = get_number(a, "softcap");
  if (!(std::isfinite(softcap) && softcap >= 0)) fail(env, "softcap", "a finite number >= 0", describe(a.Get("softcap")), true);
  p.softcap = static_cast<float>(softcap);
  p.window_left = static_cast<int>(get_integer(a, "windowLeft", -1, kIntMax));
  p.window_right = static_cast<int>(get_integer(a, "windowRight", -1, kIntMax));

  p.dropout = get_bool(a, "dropout");
  call.deterministic = get_bool(a, "deterministic");
  p.dropout_threshold = static_cast<uint32_t>(get_integer(a, "dropoutThreshold", 0, 4294967295.0));
  const double keep_scale = get_number(a, "keepScale");
  if (!(std::isfinite(keep_scale) && keep_scale >= 1)) fail(env, "keepScale", "a finite number >= 1", describe(a.Get("keepScale")), true);
  p.keep_scale = static_cast<float>(keep_scale);
  p.seed_lo = static_cast<uint32_t>(get_integer(a, "seedLo", 0, 4294967295.0));
  p.seed_hi = static_cast<uint32_t>(get_integer(a, "seedHi", 0, 4294967295.0));

  call.host.cu_q = get_cu_seqlens(a, "cuSeqlensQ", batch, total_q);
  call.host.cu_k = get_cu_seqlens(a, "cuSeqlensK", batch, total_k);
  const Napi::Value alibi = a.Get("alibiSlopes");
  if (!alibi.IsNull() && !alibi.IsUndefined()) {
    call.host.alibi = get_typed_array<float>(a, "alibiSlopes", napi_float32_array, "Float32Array");
    if (static_cast<long long>(call.host.alibi.size()) != h) {
      fail(env, "alibiSlopes", "a Float32Array of length " + std::to_string(h) + " (numHeads)", describe(alibi), true);
    }
    for (float s : call.host.alibi) {
      if (!std::isfinite(s)) fail(env, "alibiSlopes", "finite slopes", std::to_string(s), true);
    }
  }

  fa::TileShape shape{};
  if (!fa::tile_shape(static_cast<fa::DType>(p.dtype), p.dim, p.dim_v, &shape)) {
    fail(env, "headDim", "a head dim the kernels are built for", std::to_string(dim), true);
  }
  // The backward's query list is the dQ kernel's, whose tiles may be shorter than the forward's.
  call.host.tiles = get_work_list(a, "tiles", call.host.cu_q, backward ? shape.dq_rows : shape.fwd_rows);
  p.num_tiles = static_cast<int>(call.host.tiles.size() / 2);
  if (static_cast<long long>(p.num_tiles) * h > kIntMax) fail(env, "tiles", "at most 2^31 - 1 blocks", "more", true);
  if (backward) {
    call.host.key_tiles = get_work_list(a, "keyTiles", call.host.cu_k, shape.dkdv_keys);
    p.num_key_tiles = static_cast<int>(call.host.key_tiles.size() / 2);
    if (static_cast<long long>(p.num_key_tiles) * h_k > kIntMax) fail(env, "keyTiles", "at most 2^31 - 1 blocks", "more", true);
  }

  const double es = element_bytes(p.dtype);
  const double q_bytes = static_cast<double>(total_q) * h * dim * es;
  const double k_bytes = static_cast<double>(total_k) * h_k * dim * es;
  const double v_bytes = static_cast<double>(total_k) * h_k * dim_v * es;
  const double o_bytes = static_cast<double>(total_q) * h * dim_v * es;
  const double lse_bytes = static_cast<double>(total_q) * h * 4;
  const int dev = call.device;
  DeviceBuffer* q = get_buffer(a.Get("q"), "q", dev, q_bytes);
  DeviceBuffer* k = get_buffer(a.Get("k"), "k", dev, k_bytes);
  DeviceBuffer* v = get_buffer(a.Get("v"), "v", dev, v_bytes);
  p.q = q->ptr;
  p.k = k->ptr;
  p.v = v->ptr;
  std::vector<std::pair<const char*, DeviceBuffer*>> inputs = {{"q", q}, {"k", k}, {"v", v}};
  std::vector<std::pair<const char*, DeviceBuffer*>> outputs;
  if (!backward) {
    DeviceBuffer* out = get_buffer(a.Get("out"), "out", dev, o_bytes);
    DeviceBuffer* lse = get_buffer(a.Get("lse"), "lse", dev, lse_bytes);
    p.out = out->ptr;
    p.lse = static_cast<float*>(lse->ptr);
    outputs = {{"out", out}, {"lse", lse}};
  } else {
    DeviceBuffer* dout = get_buffer(a.Get("dout"), "dout", dev, o_bytes);
    DeviceBuffer* out = get_buffer(a.Get("out"), "out", dev, o_bytes);
    DeviceBuffer* lse = get_buffer(a.Get("lse"), "lse", dev, lse_bytes);
    DeviceBuffer* dq = get_buffer(a.Get("dq"), "dq", dev, q_bytes);
    DeviceBuffer* dk = get_buffer(a.Get("dk"), "dk", dev, k_bytes);
    DeviceBuffer* dv = get_buffer(a.Get("dv"), "dv", dev, v_bytes);
    p.dout = dout->ptr;
    p.out_in = out->ptr;
    p.lse_in = static_cast<const float*>(lse->ptr);
    p.dq = dq->ptr;
    p.dk = dk->ptr;
    p.dv = dv->ptr;
    inputs.insert(inputs.end(), {{"dout", dout}, {"out", out}, {"lse", lse}});
    outputs = {{"dq", dq}, {"dk", dk}, {"dv", dv}};
  }
  check_distinct(env, outputs, inputs);
  for (const auto& x : inputs) call.use.add(x.second);
  for (const auto& x : outputs) call.use.add(x.second);

  // Rows are 16-byte aligned when the tensors start 16-byte aligned (allocations are) and both head dims are whole
  // 16 bytes; then tile loads may use 16-byte cp.async.
  const int vec = 16 / element_bytes(p.dtype);
  bool aligned = true;
  for (const auto& x : inputs) aligned = aligned && reinterpret_cast<uintptr_t>(x.second->ptr) % 16 == 0;
  p.vec_loads = aligned && p.dim % vec == 0 && p.dim_v % vec == 0;
}

class AttnWorker : public Napi::AsyncWorker {
 public:
  AttnWorker(Napi::Env env, ParsedCall&& call)
      : Napi::AsyncWorker(env, "fa_cuda_attention"), deferred_(Napi::Promise::Deferred::New(env)), call_(std::move(call)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    std::vector<void*> temps;
    cudaError_t err = run(temps);
    for (void* t : temps) {
      const cudaError_t free_err = cudaFreeAsync(t, cudaStreamPerThread);
      if (err == cudaSuccess) err = free_err;
    }
    if (err != cudaSuccess) {
      error_ = err;
      SetError(std::string(call_.backward ? "backward" : "forward") + " failed: " + cuda_message(err));
    }
  }

  void OnOK() override {
    call_.use.end();
    deferred_.Resolve(Env().Undefined());
  }

  void OnError(const Napi::Error& e) override {
    call_.use.end();
    Napi::Error error = Napi::Error::New(Env(), e.Message());
    error.Set("code", Napi::String::New(Env(), "E_CUDA"));
    error.Set("cudaError", Napi::String::New(Env(), cudaGetErrorName(error_)));
    deferred_.Reject(error.Value());
  }

 private:
  template <typename T>
  cudaError_t to_device(const std::vector<T>& host, const T** dst, std::vector<void*>& temps, cudaStream_t s) {
    *dst = nullptr;
    if (host.empty()) return cudaSuccess;
    void* ptr = nullptr;
    cudaError_t err = cudaMallocAsync(&ptr, host.size() * sizeof(T), s);
    if (err != cudaSuccess) return err;
    temps.push_back(ptr);
    *dst = static_cast<const T*>(ptr);
    return cudaMemcpyAsync(ptr, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice, s);
  }

  cudaError_t run(std::vector<void*>& temps) {
    cudaError_t err = cudaSetDevice(call_.device);
    if (err != cudaSuccess) return err;
    const cudaStream_t s = cudaStreamPerThread;
    fa::AttnParams& p = call_.p;
    if ((err = to_device(call_.host.cu_q, &p.cu_seqlens_q, temps, s)) != cudaSuccess) return err;
    if ((err = to_device(call_.host.cu_k, &p.cu_seqlens_k, temps, s)) != cudaSuccess) return err;
    if ((err = to_device(call_.host.alibi, &p.alibi_slopes, temps, s)) != cudaSuccess) return err;
    if ((err = to_device(call_.host.tiles, &p.tiles, temps, s)) != cudaSuccess) return err;
    if (call_.backward) {
      if ((err = to_device(call_.host.key_tiles, &p.key_tiles, temps, s)) != cudaSuccess) return err;
      const size_t dsum_bytes = static_cast<size_t>(p.total_q) * p.h * sizeof(float);
      if (dsum_bytes > 0) {
        void* dsum = nullptr;
        if ((err = cudaMallocAsync(&dsum, dsum_bytes, s)) != cudaSuccess) return err;
        temps.push_back(dsum);
        p.dsum = static_cast<float*>(dsum);
      }
      // Not deterministic: dQ is summed with f32 atomics by the dK/dV kernel (flash-attention's default).
      const size_t accum_bytes = static_cast<size_t>(p.total_q) * p.h * p.dim * sizeof(float);
      p.dq_accum = nullptr;
      if (!call_.deterministic && accum_bytes > 0) {
        void* accum = nullptr;
        if ((err = cudaMallocAsync(&accum, accum_bytes, s)) != cudaSuccess) return err;
        temps.push_back(accum);
        if ((err = cudaMemsetAsync(accum, 0, accum_bytes, s)) != cudaSuccess) return err;
        p.dq_accum = static_cast<float*>(accum);
      }
      err = fa::launch_backward(p, s);
    } else {
      err = fa::launch_forward(p, s);
    }
    if (err != cudaSuccess) return err;
    return cudaStreamSynchronize(s);
  }

  Napi::Promise::Deferred deferred_;
  ParsedCall call_;
  cudaError_t error_ = cudaSuccess;
};

Napi::Value Forward(const Napi::CallbackInfo& info) {
  ParsedCall call;
  parse_problem(get_object(info[0], "args"), call, false);
  auto* worker = new AttnWorker(info.Env(), std::move(call));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value Backward(const Napi::CallbackInfo& info) {
  ParsedCall call;
  parse_problem(get_object(info[0], "args"), call, true);
  auto* worker = new AttnWorker(info.Env(), std::move(call));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// ---------------------------------------------------------------------------------------------------------------
// Memory

long long get_arg_integer(const Napi::CallbackInfo& info, size_t index, const char* name, double min, double max) {
  const Napi::Value v = info[index];
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : std::nan("");
  if (!(std::isfinite(d) && d == std::floor(d) && d >= min && d <= max)) {
    fail(info.Env(), name,
         "an integer in [" + std::to_string(static_cast<long long>(min)) + ", " +
             std::to_string(static_cast<long long>(max)) + "]",
         describe(v), v.IsNumber());
  }
  return static_cast<long long>(d);
}

// alloc(device, bytes): a new DeviceBuffer (uninitialised). Synchronous, but it waits only for this thread's
// stream, never for kernels of calls in flight.
Napi::Value Alloc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int device = static_cast<int>(get_arg_integer(info, 0, "device", 0, 1 << 20));
  const long long bytes = get_arg_integer(info, 1, "bytes", 0, 9007199254740991.0);
  void* ptr = nullptr;
  if (bytes > 0) {
    cudaError_t err = cudaSetDevice(device);
    // From the stream-ordered pool, then waited for, so the memory is valid on every stream (the calls' worker
    // threads use their own). Pool allocations are reused without a device-wide cudaMalloc/cudaFree each time.
    if (err == cudaSuccess) err = cudaMallocAsync(&ptr, static_cast<size_t>(bytes), cudaStreamPerThread);
    if (err == cudaSuccess) err = cudaStreamSynchronize(cudaStreamPerThread);
    if (err != cudaSuccess) {
      cudaGetLastError();  // clear a sticky-free error so the next call starts clean
      Napi::Error error = Napi::Error::New(env, "device allocation of " + std::to_string(bytes) + " bytes failed: " + cuda_message(err));
      error.Set("code", Napi::String::New(env, err == cudaErrorMemoryAllocation ? "E_CUDA_OOM" : "E_CUDA"));
      error.Set("cudaError", Napi::String::New(env, cudaGetErrorName(err)));
      throw error;
    }
  }
  Napi::Object obj = DeviceBuffer::constructor->New({Napi::External<void>::New(env, nullptr)});
  DeviceBuffer* buffer = DeviceBuffer::Unwrap(obj);
  buffer->ptr = ptr;
  buffer->bytes = static_cast<size_t>(bytes);
  buffer->device = device;
  return obj;
}

// Copies between a DeviceBuffer and a typed array on the thread pool. The typed array is held by a reference for
// the duration; the TS layer passes arrays it owns (fresh copies or fresh allocations).
class CopyWorker : public Napi::AsyncWorker {
 public:
  CopyWorker(Napi::Env env, DeviceBuffer* buffer, Napi::TypedArray array, bool to_device)
      : Napi::AsyncWorker(env, "fa_cuda_copy"),
        deferred_(Napi::Promise::Deferred::New(env)),
        buffer_(buffer),
        host_(static_cast<uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset()),
        bytes_(array.ByteLength()),
        device_ptr_(buffer->ptr),
        device_(buffer->device),
        to_device_(to_device) {
    array_ref_ = Napi::Persistent(array.As<Napi::Object>());
    use_.add(buffer);
  }
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    if (bytes_ == 0) return;
    cudaError_t err = cudaSetDevice(device_);
    const cudaStream_t s = cudaStreamPerThread;
    if (err == cudaSuccess) {
      err = to_device_ ? cudaMemcpyAsync(device_ptr_, host_, bytes_, cudaMemcpyHostToDevice, s)
                       : cudaMemcpyAsync(host_, device_ptr_, bytes_, cudaMemcpyDeviceToHost, s);
    }
    if (err == cudaSuccess) err = cudaStreamSynchronize(s);
    if (err != cudaSuccess) {
      error_ = err;
      SetError(std::string(to_device_ ? "upload" : "download") + " failed: " + cuda_message(err));
    }
  }
  void OnOK() override {
    use_.end();
    deferred_.Resolve(Env().Undefined());
  }
  void OnError(const Napi::Error& e) override {
    use_.end();
    Napi::Error error = Napi::Error::New(Env(), e.Message());
    error.Set("code", Napi::String::New(Env(), "E_CUDA"));
    error.Set("cudaError", Napi::String::New(Env(), cudaGetErrorName(error_)));
    deferred_.Reject(error.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  DeviceBuffer* buffer_;
  uint8_t* host_;
  size_t bytes_;
  void* device_ptr_;
  int device_;
  bool to_device_;
  Napi::ObjectReference array_ref_;
  BufferUse use_;
  cudaError_t error_ = cudaSuccess;
};

Napi::Value Copy(const Napi::CallbackInfo& info, bool to_device) {
  Napi::Env env = info.Env();
  const char* array_name = to_device ? "data" : "target";
  if (!info[1].IsTypedArray()) fail(env, array_name, "a typed array", describe(info[1]));
  Napi::TypedArray array = info[1].As<Napi::TypedArray>();
  if (array.ArrayBuffer().Data() == nullptr && array.ByteLength() > 0) {
    fail(env, array_name, "a typed array over a live ArrayBuffer", "a detached one");
  }
  DeviceBuffer* buffer = get_buffer(info[0], "buffer", -1, 0);
  if (array.ByteLength() != buffer->bytes) {
    fail(env, array_name, "exactly " + std::to_string(buffer->bytes) + " bytes (the buffer's size)",
         std::to_string(array.ByteLength()) + " bytes", true);
  }
  auto* worker = new CopyWorker(env, buffer, array, to_device);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value Upload(const Napi::CallbackInfo& info) { return Copy(info, true); }
Napi::Value Download(const Napi::CallbackInfo& info) { return Copy(info, false); }

// ---------------------------------------------------------------------------------------------------------------
// Devices and build facts

// { count, error }: never throws, so availability checks can report "no driver" or "no device" as data.
Napi::Value DeviceCount(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  Napi::Object result = Napi::Object::New(env);
  result.Set("count", Napi::Number::New(env, err == cudaSuccess ? count : 0));
  result.Set("error", err == cudaSuccess ? env.Null() : Napi::String::New(env, cuda_message(err)));
  result.Set("errorName", err == cudaSuccess ? env.Null() : Napi::String::New(env, cudaGetErrorName(err)));
  return result;
}

Napi::Value DeviceInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int device = static_cast<int>(get_arg_integer(info, 0, "device", 0, 1 << 20));
  cudaDeviceProp prop{};
  const cudaError_t err = cudaGetDeviceProperties(&prop, device);
  if (err != cudaSuccess) {
    Napi::Error error = Napi::Error::New(env, "cudaGetDeviceProperties(" + std::to_string(device) + ") failed: " + cuda_message(err));
    error.Set("code", Napi::String::New(env, "E_CUDA"));
    throw error;
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("name", Napi::String::New(env, prop.name));
  result.Set("major", Napi::Number::New(env, prop.major));
  result.Set("minor", Napi::Number::New(env, prop.minor));
  result.Set("totalMemory", Napi::Number::New(env, static_cast<double>(prop.totalGlobalMem)));
  result.Set("multiprocessors", Napi::Number::New(env, prop.multiProcessorCount));
  result.Set("sharedMemoryPerBlockOptin", Napi::Number::New(env, static_cast<double>(prop.sharedMemPerBlockOptin)));
  return result;
}

Napi::Value Versions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int runtime = 0;
  int driver = 0;
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);  // 0 when no driver is installed
  Napi::Object result = Napi::Object::New(env);
  result.Set("runtime", Napi::Number::New(env, runtime));
  result.Set("driver", Napi::Number::New(env, driver));
  return result;
}

Napi::Value TileShapeOf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int dtype = static_cast<int>(get_arg_integer(info, 0, "dtype", 0, 2));
  const int dim = static_cast<int>(get_arg_integer(info, 1, "headDim", 1, fa::kMaxHeadDim));
  const int dim_v = static_cast<int>(get_arg_integer(info, 2, "headDimV", 1, fa::kMaxHeadDim));
  fa::TileShape shape{};
  fa::tile_shape(static_cast<fa::DType>(dtype), dim, dim_v, &shape);
  Napi::Object result = Napi::Object::New(env);
  result.Set("bucket", Napi::Number::New(env, shape.bucket));
  result.Set("forwardRows", Napi::Number::New(env, shape.fwd_rows));
  result.Set("dqRows", Napi::Number::New(env, shape.dq_rows));
  result.Set("dkdvKeys", Napi::Number::New(env, shape.dkdv_keys));
  result.Set("forwardSharedMemory", Napi::Number::New(env, shape.fwd_smem));
  result.Set("backwardSharedMemory", Napi::Number::New(env, shape.bwd_smem));
  return result;
}

// ---------------------------------------------------------------------------------------------------------------
// Self-test hooks: host builds of the device headers (philox.h, block_info.h), compared with @fa/core in tests.

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

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("abiVersion", Napi::Number::New(env, kAbiVersion));
  exports.Set("archs", Napi::String::New(env, FA_CUDA_ARCHS));
  exports.Set("DeviceBuffer", DeviceBuffer::Init(env));
  exports.Set("alloc", Napi::Function::New<Alloc>(env, "alloc"));
  exports.Set("upload", Napi::Function::New<Upload>(env, "upload"));
  exports.Set("download", Napi::Function::New<Download>(env, "download"));
  exports.Set("forward", Napi::Function::New<Forward>(env, "forward"));
  exports.Set("backward", Napi::Function::New<Backward>(env, "backward"));
  exports.Set("deviceCount", Napi::Function::New<DeviceCount>(env, "deviceCount"));
  exports.Set("deviceInfo", Napi::Function::New<DeviceInfo>(env, "deviceInfo"));
  exports.Set("versions", Napi::Function::New<Versions>(env, "versions"));
  exports.Set("tileShape", Napi::Function::New<TileShapeOf>(env, "tileShape"));
  Napi::Object selftest = Napi::Object::New(env);
  selftest.Set("philox", Napi::Function::New<Philox>(env, "philox"));
  selftest.Set("dropoutKeep", Napi::Function::New<DropoutKeep>(env, "dropoutKeep"));
  selftest.Set("keySpan", Napi::Function::New<KeySpan>(env, "keySpan"));
  selftest.Set("rowSpan", Napi::Function::New<RowSpan>(env, "rowSpan"));
  selftest.Set("gemmLayout", Napi::Function::New<GemmLayout>(env, "gemmLayout"));
  exports.Set("selftest", selftest);
  return exports;
}

}  // namespace

NODE_API_MODULE(fa_cuda, Init)
