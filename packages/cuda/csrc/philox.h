// Philox4x32-10, bit-identical to @fa/core's philox.ts: the dropout decision of score (i, j) of head h of
// sequence b uses counter (j / 4, i, h, b), key (seed_lo, seed_hi) and output word j % 4, and keeps the score
// iff that word >= the integer threshold computed on the host. Compiled for the host too (selftest.cu), so
// the tests compare this very code with core's on the CPU.
#pragma once

#include <cstdint>

#include "hd.h"

namespace fa {

struct PhiloxWords {
  uint32_t w[4];
};

FA_HD uint32_t mulhi32(uint32_t a, uint32_t b) {
#ifdef __CUDA_ARCH__
  return __umulhi(a, b);
#else
  return static_cast<uint32_t>((static_cast<uint64_t>(a) * b) >> 32);
#endif
}

FA_HD PhiloxWords philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1) {
  constexpr uint32_t kM0 = 0xD2511F53u;
  constexpr uint32_t kM1 = 0xCD9E8D57u;
  constexpr uint32_t kW0 = 0x9E3779B9u;
  constexpr uint32_t kW1 = 0xBB67AE85u;
#ifdef __CUDA_ARCH__
#pragma unroll
#endif
  for (int round = 0; round < 10; ++round) {
    const uint32_t hi0 = mulhi32(kM0, c0);
    const uint32_t lo0 = kM0 * c0;
    const uint32_t hi1 = mulhi32(kM1, c2);
    const uint32_t lo1 = kM1 * c2;
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += kW0;
    k1 += kW1;
  }
  return PhiloxWords{{c0, c1, c2, c3}};
}

// Word `lane` of a Philox output, selected without indexing (a runtime index would put the words in local memory).
FA_HD uint32_t philox_word(const PhiloxWords& r, int lane) {
  return lane == 0 ? r.w[0] : lane == 1 ? r.w[1] : lane == 2 ? r.w[2] : r.w[3];
}

// Whether score (i, j) of head h of sequence b survives dropout (i, j: positions inside the sequence).
FA_HD bool dropout_keep(uint32_t seed_lo, uint32_t seed_hi, uint32_t threshold, int b, int h, int i, int j) {
  const PhiloxWords r = philox4x32_10(static_cast<uint32_t>(j) >> 2, static_cast<uint32_t>(i),
                                      static_cast<uint32_t>(h), static_cast<uint32_t>(b), seed_lo, seed_hi);
  return philox_word(r, j & 3) >= threshold;
}

// Keep decisions of scores (i, j) and (i, j + 1) with j even: both fall in one group of four, so one Philox
// evaluation serves the pair the accumulator layout hands each thread.
struct KeepPair {
  bool first;
  bool second;
};

FA_HD KeepPair dropout_keep_pair(uint32_t seed_lo, uint32_t seed_hi, uint32_t threshold, int b, int h, int i, int j) {
  const PhiloxWords r = philox4x32_10(static_cast<uint32_t>(j) >> 2, static_cast<uint32_t>(i),
                                      static_cast<uint32_t>(h), static_cast<uint32_t>(b), seed_lo, seed_hi);
  const int lane = j & 3;
  return KeepPair{philox_word(r, lane) >= threshold, philox_word(r, lane + 1) >= threshold};
}

}  // namespace fa
