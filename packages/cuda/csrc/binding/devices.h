// Device queries and build facts: what availability checks and the backend read before any call.
#pragma once

#include "binding/napi_setup.h"

namespace fa::binding {

// { count, error, errorName }: never throws, so availability checks can report "no driver" or "no device" as data.
Napi::Value DeviceCount(const Napi::CallbackInfo& info);
// deviceInfo(device): name, compute capability, memory, SMs, opt-in shared memory per block.
Napi::Value DeviceInfo(const Napi::CallbackInfo& info);
// { runtime, driver } as CUDA encodes them; driver 0 when no driver is installed.
Napi::Value Versions(const Napi::CallbackInfo& info);
// tileShape(dtype, headDim, headDimV, forwardKernel, backwardKernel): the compiled tile shapes and shared memory of the kernels a call uses.
Napi::Value TileShapeOf(const Napi::CallbackInfo& info);

}  // namespace fa::binding
