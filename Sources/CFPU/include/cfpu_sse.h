// SSE operations on the host SSE unit (see cfpu.h).
#ifndef CFPU_SSE_H
#define CFPU_SSE_H
#include <stdint.h>
#endif
