// The operations are static inline functions in include/; this file makes CFPU a C target.
#include "cfpu.h"
