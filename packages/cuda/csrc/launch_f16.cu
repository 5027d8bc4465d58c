// Every kernel instantiation for the f16 element type (see launch_impl.cuh).
#define FA_LAUNCH_DEFINITIONS
#include "launch_impl.cuh"

namespace fa {
FA_INSTANTIATE_LAUNCHERS(F16)
}  // namespace fa
