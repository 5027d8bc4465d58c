// The emulator builds selftest.cu as C++ (see device.h).
#include "../selftest.cu"
