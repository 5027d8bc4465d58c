#include "binding/buffers.h"

#include <cuda_runtime_api.h>

#include <string>

#include "binding/checks.h"

namespace fa::binding {

namespace {
const napi_type_tag kBufferTag = {0x6661637564616275ULL, 0x6666657231303031ULL};
}  // namespace

Napi::FunctionReference* DeviceBuffer::constructor = nullptr;

Napi::Function DeviceBuffer::Init(Napi::Env env) {
  Napi::Function f = DefineClass(env, "DeviceBuffer",
                                 {InstanceMethod<&DeviceBuffer::Free>("free"),
                                  InstanceAccessor<&DeviceBuffer::Bytes>("bytes"),
                                  InstanceAccessor<&DeviceBuffer::Device>("device"),
                                  InstanceAccessor<&DeviceBuffer::Freed>("freed")});
  constructor = new Napi::FunctionReference(Napi::Persistent(f));
  return f;
}

DeviceBuffer::DeviceBuffer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DeviceBuffer>(info) {
  // Only alloc() constructs these (with an internal marker); `new DeviceBuffer()` from JS is refused.
  if (info.Length() != 1 || !info[0].IsExternal()) {
    throw Napi::TypeError::New(info.Env(), "DeviceBuffer cannot be constructed directly; use alloc(device, bytes).");
  }
  info.This().As<Napi::Object>().TypeTag(&kBufferTag);
}

void DeviceBuffer::release() {
  if (ptr != nullptr) {
    int current = 0;
    cudaGetDevice(&current);
    if (current != device) cudaSetDevice(device);
    cudaFreeAsync(ptr, cudaStreamPerThread);
    if (current != device) cudaSetDevice(current);
    ptr = nullptr;
  }
}

void DeviceBuffer::end_use() {
  if (--inflight == 0 && pending_free) release();
}

Napi::Value DeviceBuffer::Free(const Napi::CallbackInfo& info) {
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

Napi::Value DeviceBuffer::Bytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(bytes));
}
Napi::Value DeviceBuffer::Device(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), device); }
Napi::Value DeviceBuffer::Freed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), freed); }

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

void BufferUse::add(DeviceBuffer* buffer) {
  buffer->inflight++;
  refs_.emplace_back(Napi::Persistent(buffer->Value()));
  buffers_.push_back(buffer);
}

void BufferUse::end() {
  for (DeviceBuffer* b : buffers_) b->end_use();
  buffers_.clear();
  refs_.clear();
}

void check_distinct(Napi::Env env, const NamedBuffers& outputs, const NamedBuffers& inputs) {
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

// Synchronous, but it waits only for this thread's stream, never for kernels of calls in flight.
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

}  // namespace fa::binding
