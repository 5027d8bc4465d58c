// Every kernel instantiation for the f32 element type (see launch_impl.cuh).
#define FA_LAUNCH_DEFINITIONS
#include "launch_impl.cuh"

namespace fa {
FA_INSTANTIATE_LAUNCHERS(F32)
}  // namespace fa
