// The emulator builds launch_f16.cu as C++ (see device.h).
#include "../launch_f16.cu"
