#include "binding/workers.h"

#include <cuda_runtime_api.h>

#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "binding/buffers.h"
#include "binding/checks.h"
#include "binding/problem.h"
#include "launch.h"

namespace fa::binding {

namespace {

// What every worker shares: its promise, the buffers it holds in use until it settles, and the rejection for a
// CUDA failure (`code: 'E_CUDA'` and the CUDA error's name).
class CudaWorker : public Napi::AsyncWorker {
 public:
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  CudaWorker(Napi::Env env, const char* name) : Napi::AsyncWorker(env, name), deferred_(Napi::Promise::Deferred::New(env)) {}

  // On the worker thread: record a failure, which OnError turns into the rejection.
  void fail_with(cudaError_t err, const std::string& what) {
    error_ = err;
    SetError(what + " failed: " + cuda_message(err));
  }

  virtual BufferUse& use() = 0;

  void OnOK() override {
    use().end();
    deferred_.Resolve(Env().Undefined());
  }

  void OnError(const Napi::Error& e) override {
    use().end();
    Napi::Error error = Napi::Error::New(Env(), e.Message());
    error.Set("code", Napi::String::New(Env(), "E_CUDA"));
    error.Set("cudaError", Napi::String::New(Env(), cudaGetErrorName(error_)));
    deferred_.Reject(error.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  cudaError_t error_ = cudaSuccess;
};

// One attention call: copies cu_seqlens, work lists and slopes to the device, makes the backward's temporaries,
// launches, waits, and frees the temporaries (stream-ordered) whether or not it succeeded.
class AttnWorker : public CudaWorker {
 public:
  AttnWorker(Napi::Env env, ParsedCall&& call) : CudaWorker(env, "fa_cuda_attention"), call_(std::move(call)) {}

 protected:
  void Execute() override {
    std::vector<void*> temps;
    cudaError_t err = run(temps);
    for (void* t : temps) {
      const cudaError_t free_err = cudaFreeAsync(t, cudaStreamPerThread);
      if (err == cudaSuccess) err = free_err;
    }
    if (err != cudaSuccess) fail_with(err, call_.backward ? "backward" : "forward");
  }

  BufferUse& use() override { return call_.use; }

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

  ParsedCall call_;
};

// Copies between a DeviceBuffer and a typed array. The typed array is held by a reference for the duration; the
// TS layer passes arrays it owns (fresh copies or fresh allocations).
class CopyWorker : public CudaWorker {
 public:
  CopyWorker(Napi::Env env, DeviceBuffer* buffer, Napi::TypedArray array, bool to_device)
      : CudaWorker(env, "fa_cuda_copy"),
        host_(static_cast<uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset()),
        bytes_(array.ByteLength()),
        device_ptr_(buffer->ptr),
        device_(buffer->device),
        to_device_(to_device) {
    array_ref_ = Napi::Persistent(array.As<Napi::Object>());
    use_.add(buffer);
  }

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
    if (err != cudaSuccess) fail_with(err, to_device_ ? "upload" : "download");
  }

  BufferUse& use() override { return use_; }

 private:
  uint8_t* host_;
  size_t bytes_;
  void* device_ptr_;
  int device_;
  bool to_device_;
  Napi::ObjectReference array_ref_;
  BufferUse use_;
};

// A new dense (rows, parts, row_bytes) buffer from `rows` rows of each part (the contract's `interleave`): one
// strided device-to-device copy per part on the worker's stream, row r of part p landing at (r·P + p)·row_bytes.
// Parts may be views of one buffer. Everything was checked on the JS thread (parse_interleave).
struct InterleaveCall {
  struct Part {
    const uint8_t* src;  // the part's first byte (offset folded in)
  };
  std::vector<Part> parts;
  uint8_t* dst = nullptr;
  size_t rows = 0;
  size_t row_bytes = 0;
  int device = 0;
  BufferUse use;
};

class InterleaveWorker : public CudaWorker {
 public:
  InterleaveWorker(Napi::Env env, InterleaveCall&& call) : CudaWorker(env, "fa_cuda_interleave"), call_(std::move(call)) {}

 protected:
  void Execute() override {
    const cudaError_t err = run();
    if (err != cudaSuccess) fail_with(err, "interleave");
  }

  BufferUse& use() override { return call_.use; }

 private:
  // cudaMemcpy2D refuses pitches past the device's maximum (cudaDevAttrMaxPitch, 2^31 - 1 on current GPUs).
  static constexpr size_t kMaxPitch = 2147483647;

  cudaError_t run() {
    const size_t rows = call_.rows;
    const size_t width = call_.row_bytes;
    if (rows == 0 || width == 0) return cudaSuccess;
    cudaError_t err = cudaSetDevice(call_.device);
    if (err != cudaSuccess) return err;
    const cudaStream_t s = cudaStreamPerThread;
    const size_t count = call_.parts.size();
    const size_t pitch = count * width;
    for (size_t p = 0; p < count && err == cudaSuccess; ++p) {
      uint8_t* dst = call_.dst + p * width;
      const uint8_t* src = call_.parts[p].src;
      if (count == 1) {
        // One part: the output is the part's rows as they are, one dense copy.
        err = cudaMemcpyAsync(dst, src, rows * width, cudaMemcpyDeviceToDevice, s);
      } else if (pitch <= kMaxPitch) {
        err = cudaMemcpy2DAsync(dst, pitch, src, width, width, rows, cudaMemcpyDeviceToDevice, s);
      } else {
        for (size_t r = 0; r < rows && err == cudaSuccess; ++r) {
          err = cudaMemcpyAsync(dst + r * pitch, src + r * width, width, cudaMemcpyDeviceToDevice, s);
        }
      }
    }
    if (err != cudaSuccess) return err;
    return cudaStreamSynchronize(s);
  }

  InterleaveCall call_;
};

// interleave({ device, elementBytes, rows, rowElements, parts: [{ buffer, offset }], out }): every size checked
// against the buffers before any device work. The byte counts are computed in doubles as in problem.cc: exact
// below 2^53 (every buffer is smaller), and at least 2^53 (so refused) whenever the true value is.
void parse_interleave(const Napi::Object& a, InterleaveCall& call) {
  Napi::Env env = a.Env();
  const double kMax = 9007199254740991.0;  // 2^53 - 1
  call.device = static_cast<int>(get_integer(a, "device", 0, 1 << 20));
  const Napi::Value es_value = a.Get("elementBytes");
  const double es_number = es_value.IsNumber() ? es_value.As<Napi::Number>().DoubleValue() : 0;
  if (es_number != 2 && es_number != 4) fail(env, "elementBytes", "2 or 4", describe(es_value), es_value.IsNumber());
  const long long es = static_cast<long long>(es_number);
  const long long rows = get_integer(a, "rows", 0, kMax);
  const long long row_elements = get_integer(a, "rowElements", 0, kMax);
  const Napi::Value list = a.Get("parts");
  if (!list.IsArray() || list.As<Napi::Array>().Length() == 0) {
    fail(env, "parts", "a non-empty array of { buffer, offset }", describe(list));
  }
  const Napi::Array parts = list.As<Napi::Array>();
  const double part_elements = static_cast<double>(rows) * static_cast<double>(row_elements);
  NamedBuffers inputs;
  std::deque<std::string> names;  // the names `inputs` points into: a deque never moves its elements
  for (uint32_t i = 0; i < parts.Length(); ++i) {
    names.push_back("parts[" + std::to_string(i) + "]");
    const Napi::Object part = get_object(parts.Get(i), names.back().c_str());
    const long long offset = integer_in(env, names.back() + ".offset", part.Get("offset"), 0, kMax);
    const double needed = (static_cast<double>(offset) + part_elements) * static_cast<double>(es);
    DeviceBuffer* buffer = get_buffer(part.Get("buffer"), names.back().c_str(), call.device, needed);
    inputs.emplace_back(names.back().c_str(), buffer);
    call.parts.push_back({static_cast<const uint8_t*>(buffer->ptr) + static_cast<size_t>(offset) * es});
  }
  const double out_bytes = part_elements * static_cast<double>(parts.Length()) * static_cast<double>(es);
  DeviceBuffer* out = get_buffer(a.Get("out"), "out", call.device, out_bytes);
  check_distinct(env, {{"out", out}}, inputs);
  call.dst = static_cast<uint8_t*>(out->ptr);
  call.rows = static_cast<size_t>(rows);
  call.row_bytes = static_cast<size_t>(row_elements) * static_cast<size_t>(es);
  for (const auto& x : inputs) call.use.add(x.second);
  call.use.add(out);
}

Napi::Value attention(const Napi::CallbackInfo& info, bool backward) {
  ParsedCall call;
  parse_problem(get_object(info[0], "args"), call, backward);
  auto* worker = new AttnWorker(info.Env(), std::move(call));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value copy(const Napi::CallbackInfo& info, bool to_device) {
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

}  // namespace

Napi::Value Forward(const Napi::CallbackInfo& info) { return attention(info, false); }
Napi::Value Backward(const Napi::CallbackInfo& info) { return attention(info, true); }
Napi::Value Upload(const Napi::CallbackInfo& info) { return copy(info, true); }
Napi::Value Download(const Napi::CallbackInfo& info) { return copy(info, false); }

Napi::Value Interleave(const Napi::CallbackInfo& info) {
  InterleaveCall call;
  parse_interleave(get_object(info[0], "args"), call);
  auto* worker = new InterleaveWorker(info.Env(), std::move(call));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace fa::binding
