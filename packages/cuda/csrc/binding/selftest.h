// Self-test hooks: host builds of the device headers (philox.h, block_info.h, gemm.h's fragment layout; see
// selftest.cu), exported as `selftest.*` so that the tests compare them with @fa/core. No device work.
#pragma once

#include "binding/napi_setup.h"

namespace fa::binding {

// { philox, dropoutKeep, keySpan, rowSpan, gemmLayout }
Napi::Object selftest_exports(Napi::Env env);

}  // namespace fa::binding
