// Buffer lifetimes: a JS object owns one device allocation. free() is idempotent; a buffer still in use by a call
// in flight is freed when that call completes, so a dispose during a call can never free memory a kernel still
// reads.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "binding/napi_setup.h"

namespace fa::binding {

class DeviceBuffer : public Napi::ObjectWrap<DeviceBuffer> {
 public:
  static Napi::FunctionReference* constructor;

  static Napi::Function Init(Napi::Env env);

  explicit DeviceBuffer(const Napi::CallbackInfo& info);
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
  void release();
  void end_use();

 private:
  Napi::Value Free(const Napi::CallbackInfo& info);
  Napi::Value Bytes(const Napi::CallbackInfo& info);
  Napi::Value Device(const Napi::CallbackInfo& info);
  Napi::Value Freed(const Napi::CallbackInfo& info);
};

// A live buffer of this addon, on `device` (any device when negative), holding at least `needed` bytes.
DeviceBuffer* get_buffer(const Napi::Value& v, const char* name, int device, double needed);

// Keeps the buffers of a call alive (a JS reference each) and marks them in use until the call settles.
class BufferUse {
 public:
  void add(DeviceBuffer* buffer);
  void end();

 private:
  std::vector<DeviceBuffer*> buffers_;
  std::vector<Napi::ObjectReference> refs_;
};

using NamedBuffers = std::vector<std::pair<const char*, DeviceBuffer*>>;

// Refuses an output that is another output or one of the inputs: a kernel would read what it overwrites.
void check_distinct(Napi::Env env, const NamedBuffers& outputs, const NamedBuffers& inputs);

// alloc(device, bytes): a new DeviceBuffer (uninitialised).
Napi::Value Alloc(const Napi::CallbackInfo& info);

}  // namespace fa::binding
