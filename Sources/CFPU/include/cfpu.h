// The host FPU as the arithmetic unit of the guest's x87 and SSE (issue 3).
//
// vmxemu runs on x86-64 hosts only, whose x87 and SSE units implement the same IEEE 754
// arithmetic the SDM specifies for the guest (SDM Vol. 1 ch. 4 "Data Types", ch. 8 "Programming
// with the x87 FPU", ch. 11 "Programming with SSE2"). Each operation here is one inline-asm
// block that loads the guest's control state (x87 control word, MXCSR) into the host unit with
// every exception masked, runs the one instruction, reads back the status flags and restores the
// host's control state. Doing the arithmetic inside the asm block keeps the compiler from moving
// it across the control-state changes (it treats floating-point operations as side-effect free).
#ifndef CFPU_H
#define CFPU_H
#include "cfpu_x87.h"
#include "cfpu_sse.h"
#endif
