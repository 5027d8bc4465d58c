// The emulator builds launch_f32.cu as C++ (see device.h).
#include "../launch_f32.cu"
