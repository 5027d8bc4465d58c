// Where one sequence of the packed batch lives, from cu_seqlens, and which of its keys/queries a tile must
// visit. Every bound follows @fa/core's mask.ts: queries are aligned to the bottom-right corner, so query i of a
// sequence sits at key position i + Lk - Lq.
#pragma once

#include "params.h"

namespace fa {

struct BlockInfo {
  int q_start;  // first row of the sequence in q/out/dq and column in lse
  int k_start;  // first row of the sequence in k/v
  int len_q;
  int len_k;

  __device__ BlockInfo(const AttnParams& p, int b)
      : q_start(p.cu_seqlens_q[b]),
        k_start(p.cu_seqlens_k[b]),
        len_q(p.cu_seqlens_q[b + 1] - p.cu_seqlens_q[b]),
        len_k(p.cu_seqlens_k[b + 1] - p.cu_seqlens_k[b]) {}

  __device__ int diagonal(int row) const { return row + len_k - len_q; }
};

// Half-open key range [first, end) that rows [row0, row1) can see; the band is monotone in the row, so the
// first row bounds it on the left and the last on the right. Empty when end <= first.
struct Span {
  int first;
  int end;
};

__host__ __device__ inline int imax(int a, int b) { return a > b ? a : b; }
__host__ __device__ inline int imin(int a, int b) { return a < b ? a : b; }

__host__ __device__ inline Span visible_key_span(int row0, int row1, int len_q, int len_k, int left, int right) {
  if (row1 <= row0 || len_k == 0) return {0, 0};
  const int offset = len_k - len_q;
  const int first = left < 0 ? 0 : imax(0, row0 + offset - left);
  const int end = right < 0 ? len_k : imin(len_k, row1 - 1 + offset + right + 1);
  return end > first ? Span{first, end} : Span{0, 0};
}

// The query rows [first, end) that see at least one key of columns [col0, col1).
__host__ __device__ inline Span visible_row_span(int col0, int col1, int len_q, int len_k, int left, int right) {
  if (col1 <= col0 || len_q == 0 || len_k == 0) return {0, 0};
  const int offset = len_k - len_q;
  const int first = right < 0 ? 0 : imax(0, col0 - offset - right);
  const int end = left < 0 ? len_q : imin(len_q, col1 - 1 - offset + left + 1);
  return end > first ? Span{first, end} : Span{0, 0};
}

// What a block of a query-tile kernel (forward, dQ) owns: query tile `item` of the host's work list for head h
// (blocks of one tile for every head are adjacent, block = tile * H + head, so the longest tiles of every head start
// first), its sequence's bounds, and the key tiles of kBN keys its rows can see: [kt_begin, kt_end).
template <int kBM, int kBN>
struct QueryTile {
  int h;
  int hk;  // the key/value head of h's GQA group
  int b;
  int row0;
  BlockInfo bi;
  int rows;  // rows of the tile inside the sequence
  int kt_begin;
  int kt_end;

  __device__ QueryTile(const AttnParams& p, unsigned block)
      : h(static_cast<int>(block % p.h)),
        hk(h / (p.h / p.h_k)),
        b(p.tiles[2 * (block / p.h)]),
        row0(p.tiles[2 * (block / p.h) + 1]),
        bi(p, b),
        rows(imin(kBM, bi.len_q - row0)) {
    const Span keys = visible_key_span(row0, row0 + rows, bi.len_q, bi.len_k, p.window_left, p.window_right);
    kt_begin = keys.first / kBN;
    kt_end = keys.end > keys.first ? (keys.end + kBN - 1) / kBN : kt_begin;
  }
};

}  // namespace fa
