// The emulator builds launch_bf16.cu as C++ (see device.h).
#include "../launch_bf16.cu"
