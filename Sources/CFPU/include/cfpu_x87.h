// x87 operations on the host FPU (see cfpu.h).
#ifndef CFPU_X87_H
#define CFPU_X87_H
#include <stdint.h>
#endif
