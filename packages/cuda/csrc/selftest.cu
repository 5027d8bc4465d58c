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
