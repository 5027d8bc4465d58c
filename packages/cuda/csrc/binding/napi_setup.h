// node-addon-api as every file of the binding compiles it: one N-API version, C++ exceptions for JS errors, no
// deprecated API. Included instead of <napi.h>, so that no file can see a different configuration (the classes
// are templates and inline functions: two configurations in one addon would break the one-definition rule).
#pragma once

#define NAPI_VERSION 8
#define NODE_ADDON_API_DISABLE_DEPRECATED
#define NAPI_CPP_EXCEPTIONS
#include <napi.h>
