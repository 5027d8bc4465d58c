// The emulator builds launch.cu as C++ (see device.h).
#include "../launch.cu"
