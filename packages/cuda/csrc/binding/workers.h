// Async workers: every copy and kernel call runs on libuv's thread pool (N-API async work), so the event loop
// only ever validates and enqueues. The worker thread enqueues on its per-thread stream and waits there; the
// promise settles on the JS thread, which then releases the call's buffers.
#pragma once

#include "binding/napi_setup.h"

namespace fa::binding {

// forward(args) and backward(args): the checked call (problem.h), run on the thread pool; a promise.
Napi::Value Forward(const Napi::CallbackInfo& info);
Napi::Value Backward(const Napi::CallbackInfo& info);

// upload(buffer, data) and download(buffer, target): a copy of exactly the buffer's bytes; a promise.
Napi::Value Upload(const Napi::CallbackInfo& info);
Napi::Value Download(const Napi::CallbackInfo& info);

// interleave({ device, elementBytes, rows, rowElements, parts: [{ buffer, offset }], out }): out's row r holds row r
// of every part in order (the contract's `interleave`), one strided device-to-device copy per part; a promise.
Napi::Value Interleave(const Napi::CallbackInfo& info);

}  // namespace fa::binding
