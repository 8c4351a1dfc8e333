/* native-main.c — the same computations as a Linux program (the reference). */
#include "numeric.h"
int main(void) { return numeric_main() > 0 ? 0 : 1; }
