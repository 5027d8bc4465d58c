// Host builds of device-side helpers, from the very headers the kernels include, so that tests on a machine
// without a GPU can compare them with @fa/core (Philox words, dropout decisions, visible spans).
#include "block_info.h"
#include "launch.h"
#include "philox.h"

namespace fa {

void philox_host(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]) {
  const PhiloxWords r = philox4x32_10(counter[0], counter[1], counter[2], counter[3], key[0], key[1]);
  for (int i = 0; i < 4; ++i) out[i] = r.w[i];
}

bool dropout_keep_host(uint32_t seed_lo, uint32_t seed_hi, uint32_t threshold, int b, int h, int i, int j) {
  return dropout_keep(seed_lo, seed_hi, threshold, b, h, i, j);
}

int dropout_keep_pair_host(uint32_t seed_lo, uint32_t seed_hi, uint32_t threshold, int b, int h, int i, int j) {
  const KeepPair k = dropout_keep_pair(seed_lo, seed_hi, threshold, b, h, i, j);
  return (k.first ? 1 : 0) | (k.second ? 2 : 0);
}

void key_span_host(int row0, int row1, int len_q, int len_k, int left, int right, int out[2]) {
  const Span s = visible_key_span(row0, row1, len_q, len_k, left, right);
  out[0] = s.first;
  out[1] = s.end;
}

void row_span_host(int col0, int col1, int len_q, int len_k, int left, int right, int out[2]) {
  const Span s = visible_row_span(col0, col1, len_q, len_k, left, right);
  out[0] = s.first;
  out[1] = s.end;
}

}  // namespace fa

// ---------------------------------------------------------------------------------------------------------------
// gemm.h's operand views and fragment loaders, checked on the host against an emulation of mma.m16n8k16 written
// from the PTX ISA's fragment tables (not from gemm.h): for lane l, with g = l / 4 and t = l % 4,
//   A register i, half h  = A[g + 8 (i % 2)][2t + h + 8 (i / 2)]
//   B register i, half h  = B[2t + h + 8i][g]
//   C element e           = C[g + 8 (e / 2)][2t + e % 2]
// Each configuration mirrors one product of the kernels, with the kernels' strides and offsets, and computes the
// expected product from the raw shared-memory layout, so a transposed or offset view shows up as mismatches.

#include <string>
#include <vector>

#include "gemm.h"

namespace fa {
namespace {

int half_of(uint32_t reg, int h) { return static_cast<int>(h == 0 ? reg & 0xffffu : reg >> 16); }

void emulate_mma(float (&c)[32][4], const uint32_t (&a)[32][4], const uint32_t (&b)[32][2]) {
  int A[16][16];
  int B[16][8];
  for (int l = 0; l < 32; ++l) {
    const int g = l / 4, t = l % 4;
    for (int i = 0; i < 4; ++i)
      for (int h = 0; h < 2; ++h) A[g + 8 * (i % 2)][2 * t + h + 8 * (i / 2)] = half_of(a[l][i], h);
    for (int i = 0; i < 2; ++i)
      for (int h = 0; h < 2; ++h) B[2 * t + h + 8 * i][g] = half_of(b[l][i], h);
  }
  for (int l = 0; l < 32; ++l) {
    const int g = l / 4, t = l % 4;
    for (int e = 0; e < 4; ++e) {
      int sum = 0;
      for (int k = 0; k < 16; ++k) sum += A[g + 8 * (e / 2)][k] * B[k][2 * t + e % 2];
      c[l][e] += static_cast<float>(sum);
    }
  }
}

struct LayoutCheck {
  std::string name;
  long mismatches;
  long checked;
};

// Runs one warp's product through gemm.h (mma path emulated, or the FMA path itself) and compares every
// accumulator element, placed by acc_row_of/acc_col_of, with `expected(row, col)`.
template <int kNT, int kK, bool kMma, typename MatA, typename MatB, typename Expected>
LayoutCheck check_product(const std::string& name, const MatA& a, const MatB& b, Expected expected) {
  std::vector<float> storage(32 * kNT * 4, 0.f);
  auto acc = reinterpret_cast<float (*)[kNT][4]>(storage.data());
  if constexpr (kMma) {
    for (int k0 = 0; k0 < kK; k0 += 16) {
      uint32_t fa[32][4];
      for (int l = 0; l < 32; ++l) load_a_fragment(fa[l], a, k0, l);
      for (int nt = 0; nt < kNT; ++nt) {
        uint32_t fb[32][2];
        for (int l = 0; l < 32; ++l) load_b_fragment(fb[l], b, k0, nt, l);
        float c[32][4];
        for (int l = 0; l < 32; ++l)
          for (int e = 0; e < 4; ++e) c[l][e] = acc[l][nt][e];
        emulate_mma(c, fa, fb);
        for (int l = 0; l < 32; ++l)
          for (int e = 0; e < 4; ++e) acc[l][nt][e] = c[l][e];
      }
    }
  } else {
    for (int l = 0; l < 32; ++l) fma_gemm_lane<kNT, kK>(acc[l], a, b, l);
  }
  LayoutCheck result{name + (kMma ? " (mma)" : " (fma)"), 0, 0};
  for (int l = 0; l < 32; ++l)
    for (int nt = 0; nt < kNT; ++nt)
      for (int e = 0; e < 4; ++e) {
        result.checked++;
        if (acc[l][nt][e] != expected(acc_row_of(l, e), acc_col_of(l, nt, e))) result.mismatches++;
      }
  return result;
}

// The kernels' products at head-dim bucket 64, as they address shared memory (see kernel_*.cuh).
template <typename S, bool kMma>
void check_kernel_products(std::vector<LayoutCheck>& out) {
  constexpr int kD = 64, kBN = 64, kBM = 64;
  constexpr int P = kD + 16 / static_cast<int>(sizeof(S));   // kPitch
  constexpr int PP = kBN + 16 / static_cast<int>(sizeof(S));  // P / dS tile pitch
  constexpr int PT = kBM + 16 / static_cast<int>(sizeof(S));  // P^T / dS^T tile pitch (dK/dV)
  uint32_t state = 12345;
  auto fill = [&](std::vector<S>& m) {
    for (auto& x : m) {
      state = state * 1664525u + 1013904223u;
      x = static_cast<S>((state >> 24) % 7);  // small integers: every product is exact in f32
    }
  };
  std::vector<S> q(kBM * P), k(kBN * P), v(kBN * P), p(kBM * PP), pt(kBN * PT), dout(kBM * P);
  fill(q), fill(k), fill(v), fill(p), fill(pt), fill(dout);
  auto val = [](S x) { return static_cast<int>(x); };
  const int w = 16;  // a warp's first row: the second warp of the block

  // Forward / dQ: S = Q K^T, A = Q rows of the warp, B(k = dim, n = key) = K[key][dim].
  out.push_back(check_product<kBN / 8, kD, kMma>(
      "S = Q K^T", SmemMat<S, P, 1>{q.data() + w * P}, SmemMat<S, 1, P>{k.data()}, [&](int r, int n) {
        int s = 0;
        for (int d = 0; d < kD; ++d) s += val(q[(w + r) * P + d]) * val(k[n * P + d]);
        return static_cast<float>(s);
      }));
  // Forward: O += P V (and dQ += dS K), B(k = key, n = dim) = V[key][dim].
  out.push_back(check_product<kD / 8, kBN, kMma>(
      "O = P V", SmemMat<S, PP, 1>{p.data() + w * PP}, SmemMat<S, P, 1>{v.data()}, [&](int r, int n) {
        int s = 0;
        for (int j = 0; j < kBN; ++j) s += val(p[(w + r) * PP + j]) * val(v[j * P + n]);
        return static_cast<float>(s);
      }));
  // dK/dV, column slice 1 of 2: S^T = K Q^T over queries 32..63.
  out.push_back(check_product<kBM / 2 / 8, kD, kMma>(
      "S^T = K Q^T (slice)", SmemMat<S, P, 1>{k.data() + w * P}, SmemMat<S, 1, P>{q.data() + 32 * P},
      [&](int r, int n) {
        int s = 0;
        for (int d = 0; d < kD; ++d) s += val(k[(w + r) * P + d]) * val(q[(32 + n) * P + d]);
        return static_cast<float>(s);
      }));
  // dK/dV, column slice 1 of 2: dV += P^T dO over head dims 32..63.
  out.push_back(check_product<kD / 2 / 8, kBM, kMma>(
      "dV = P^T dO (slice)", SmemMat<S, PT, 1>{pt.data() + w * PT}, SmemMat<S, P, 1>{dout.data() + 32},
      [&](int r, int n) {
        int s = 0;
        for (int i = 0; i < kBM; ++i) s += val(pt[(w + r) * PT + i]) * val(dout[i * P + 32 + n]);
        return static_cast<float>(s);
      }));
  // A control that must mismatch: K read untransposed where S = Q K^T needs K^T.
  out.push_back(check_product<kBN / 8, kD, kMma>(
      "control: K not transposed", SmemMat<S, P, 1>{q.data() + w * P}, SmemMat<S, P, 1>{k.data()},
      [&](int r, int n) {
        int s = 0;
        for (int d = 0; d < kD; ++d) s += val(q[(w + r) * P + d]) * val(k[n * P + d]);
        return static_cast<float>(s);
      }));
}

}  // namespace

std::string gemm_layout_report() {
  std::vector<LayoutCheck> checks;
  check_kernel_products<uint16_t, true>(checks);
  check_kernel_products<float, false>(checks);
  std::string report;
  for (const auto& c : checks) {
    report += c.name + "\t" + std::to_string(c.mismatches) + "\t" + std::to_string(c.checked) + "\n";
  }
  return report;
}

}  // namespace fa
