#include "binding/devices.h"

#include <cuda_runtime_api.h>

#include <string>

#include "binding/checks.h"
#include "launch.h"

namespace fa::binding {

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
  const int fwd = static_cast<int>(get_arg_integer(info, 3, "forwardKernel", 0, 1));
  const int bwd = static_cast<int>(get_arg_integer(info, 4, "backwardKernel", 0, 1));
  fa::TileShape shape{};
  fa::tile_shape(static_cast<fa::DType>(dtype), dim, dim_v,
                 fa::KernelChoice{static_cast<fa::FwdKernel>(fwd), static_cast<fa::BwdKernel>(bwd)}, &shape);
  Napi::Object result = Napi::Object::New(env);
  result.Set("bucket", Napi::Number::New(env, shape.bucket));
  result.Set("forwardRows", Napi::Number::New(env, shape.fwd_rows));
  result.Set("dqRows", Napi::Number::New(env, shape.dq_rows));
  result.Set("dkdvKeys", Napi::Number::New(env, shape.dkdv_keys));
  result.Set("forwardSharedMemory", Napi::Number::New(env, shape.fwd_smem));
  result.Set("backwardSharedMemory", Napi::Number::New(env, shape.bwd_smem));
  return result;
}

}  // namespace fa::binding
