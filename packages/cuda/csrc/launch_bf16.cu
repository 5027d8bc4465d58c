// Every kernel instantiation for the bf16 element type (see launch_impl.cuh).
#define FA_LAUNCH_DEFINITIONS
#include "launch_impl.cuh"

namespace fa {
FA_INSTANTIATE_LAUNCHERS(BF16)
}  // namespace fa
