#include "binding/problem.h"

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>

#include "binding/checks.h"
#include "launch.h"

namespace fa::binding {

namespace {

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

// Where a (tokens, heads, dim) input sits in its buffer, in elements (core's TensorLayout): element (t, h, d) at
// offset + t * token_stride + h * head_stride + d. A view's buffer is its owner's whole storage (all of a packed
// qkv), so sizes are checked against what the layout reaches, not tokens * heads * dim.
struct Layout {
  long long offset;
  long long token_stride;
  long long head_stride;
};

Layout get_layout(const Napi::Object& o, const std::string& name) {
  const double kMax = 9007199254740991.0;  // 2^53 - 1: no buffer holds more bytes
  return {get_integer(o, (name + "Offset").c_str(), 0, kMax), get_integer(o, (name + "TokenStride").c_str(), 0, kMax),
          get_integer(o, (name + "HeadStride").c_str(), 0, kMax)};
}

// Bytes from the start of the buffer to the end of the last element the view reads (core's layoutExtent); just
// the offset when it reads nothing. When the true extent is below 2^53, as any buffer's size is, every term and
// partial sum is an integer below 2^53 and the doubles are exact; otherwise rounding (monotone) keeps the result
// at 2^53 or more. Either way it is below a buffer's size exactly when the true extent is.
double layout_extent_bytes(const Layout& l, long long tokens, long long heads, long long dim, int es) {
  double elements = static_cast<double>(l.offset);
  if (tokens > 0 && heads > 0 && dim > 0) {
    elements += static_cast<double>(tokens - 1) * static_cast<double>(l.token_stride) +
                static_cast<double>(heads - 1) * static_cast<double>(l.head_stride) + static_cast<double>(dim);
  }
  return elements * es;
}

}  // namespace

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

  p.fwd_kernel = static_cast<int>(get_integer(a, "forwardKernel", 0, 1));
  p.bwd_kernel = static_cast<int>(get_integer(a, "backwardKernel", 0, 1));
  p.tuning = static_cast<unsigned>(get_integer(a, "tuning", 0, fa::kTuneAll));
  const fa::KernelChoice kernels{static_cast<fa::FwdKernel>(p.fwd_kernel), static_cast<fa::BwdKernel>(p.bwd_kernel)};
  fa::TileShape shape{};
  if (!fa::tile_shape(static_cast<fa::DType>(p.dtype), p.dim, p.dim_v, kernels, &shape)) {
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

  const int es = element_bytes(p.dtype);
  const Layout q_layout = get_layout(a, "q");
  const Layout k_layout = get_layout(a, "k");
  const Layout v_layout = get_layout(a, "v");
  // Outputs (and dout, out) are contiguous.
  const double q_bytes = static_cast<double>(total_q) * h * dim * es;
  const double k_bytes = static_cast<double>(total_k) * h_k * dim * es;
  const double v_bytes = static_cast<double>(total_k) * h_k * dim_v * es;
  const double o_bytes = static_cast<double>(total_q) * h * dim_v * es;
  const double lse_bytes = static_cast<double>(total_q) * h * 4;
  const int dev = call.device;
  DeviceBuffer* q = get_buffer(a.Get("q"), "q", dev, layout_extent_bytes(q_layout, total_q, h, dim, es));
  DeviceBuffer* k = get_buffer(a.Get("k"), "k", dev, layout_extent_bytes(k_layout, total_k, h_k, dim, es));
  DeviceBuffer* v = get_buffer(a.Get("v"), "v", dev, layout_extent_bytes(v_layout, total_k, h_k, dim_v, es));
  // The kernels see each view from its first element (flash-attention's data_ptr of a view), with its strides.
  p.q = static_cast<const char*>(q->ptr) + q_layout.offset * es;
  p.k = static_cast<const char*>(k->ptr) + k_layout.offset * es;
  p.v = static_cast<const char*>(v->ptr) + v_layout.offset * es;
  p.q_row_stride = q_layout.token_stride;
  p.q_head_stride = q_layout.head_stride;
  p.k_row_stride = k_layout.token_stride;
  p.k_head_stride = k_layout.head_stride;
  p.v_row_stride = v_layout.token_stride;
  p.v_head_stride = v_layout.head_stride;
  NamedBuffers inputs = {{"q", q}, {"k", k}, {"v", v}};
  NamedBuffers outputs;
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

  // Every tile row starts 16-byte aligned, so tile loads may use 16-byte cp.async, when the buffers do
  // (allocations are 256-byte aligned), both head dims are whole 16 bytes (which covers the contiguous dout and
  // dq), and so are the offsets and strides of the q, k, v views. The parts of a packed qkv or kv are whole
  // head rows apart, so they are aligned exactly when the head dim is; a view with an odd offset or a padded
  // head stride (say D + 3) takes the element-wise path even at an aligned head dim.
  bool aligned = true;
  for (const auto& x : inputs) aligned = aligned && reinterpret_cast<uintptr_t>(x.second->ptr) % 16 == 0;
  for (const Layout* l : {&q_layout, &k_layout, &v_layout}) {
    aligned = aligned && l->offset * es % 16 == 0 && l->token_stride * es % 16 == 0 && l->head_stride * es % 16 == 0;
  }
  p.vec_loads = aligned && p.dim * es % 16 == 0 && p.dim_v * es % 16 == 0;
}

}  // namespace fa::binding
