// The arguments of an attention call (forward or backward), checked and unpacked into the kernels' parameters:
// sizes and dims, options, cu_seqlens against the totals, work lists against cu_seqlens and the tile shape, and
// the buffers against the sizes those imply. Everything the worker then needs is copied out of JS here.
#pragma once

#include <cstdint>
#include <vector>

#include "binding/buffers.h"
#include "binding/napi_setup.h"
#include "params.h"

namespace fa::binding {

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

// Checks every property of `args` and fills `call`; throws (see checks.h) at the first bad one, before any device
// work. The call's buffers are marked in use from here until the worker settles.
void parse_problem(const Napi::Object& args, ParsedCall& call, bool backward);

}  // namespace fa::binding
