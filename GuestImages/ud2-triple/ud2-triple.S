/*
 * ud2-triple — the shortest way to a triple fault, on purpose.
 *
 * This image never reaches long mode and prints nothing.  It checks that an
 * emulator escalates exceptions exactly like the hardware does, all the way
 * to shutdown.  Expected result: the machine shuts down (vmxemu reports a
 * triple fault; QEMU with -no-reboot exits with status 0 and no output).
 *
 * SDM references (Order Number 325462-077US, April 2022, Vol. 3A):
 *   §6.10 "Interrupt Descriptor Table (IDT)"
 *   §6.13 "Error Code"
 *   §6.15 "Exception and Interrupt Reference", entries for Interrupt 6 (#UD),
 *         Interrupt 8 (#DF, with Table 6-5 "Conditions for Generating a
 *         Double Fault") and Interrupt 13 (#GP).
 *
 * The chain, step by step:
 *
 *  0. LIDT loads IDTR with base 0 and limit 0: the IDT is one byte long.
 *     Each protected-mode gate is 8 bytes, and the CPU checks that the whole
 *     gate, bytes vector*8 .. vector*8+7, lies within the limit.  With limit
 *     0 no vector has a gate.  (Interrupts are off, and nothing else can
 *     interrupt us, so the first event is the one we cause.)
 *
 *  1. UD2 raises #UD, vector 6 — a fault, class "benign".
 *     Delivering it needs gate 6 at IDT offset 48..55: beyond the limit.
 *
 *  2. An IDT reference beyond the limit is a #GP, vector 13, with an error
 *     code naming the gate: index 6, IDT bit set, and by §6.13 the EXT bit
 *     set because it happened while delivering another event, so 0x33
 *     (QEMU 7.2 logs 0x32, without EXT).  #GP is "contributory"; a
 *     contributory exception during delivery of a benign one is simply
 *     handled next, so the CPU now tries to deliver the #GP.
 *     Gate 13 at offset 104..111: beyond the limit.
 *
 *  3. Another #GP, this time while delivering a contributory exception (the
 *     first #GP).  Contributory-on-contributory is the double-fault case of
 *     Table 6-5: the CPU raises #DF, vector 8.
 *     Gate 8 at offset 64..71: beyond the limit.
 *
 *  4. Any further exception while trying to deliver #DF is a triple fault:
 *     the processor gives up and enters the shutdown state (it stops
 *     executing; the chipset normally turns that into a reset).  QEMU resets
 *     the machine — or, with -no-reboot, exits.
 *
 * Nothing is ever pushed on a stack, because no gate is ever found; that is
 * why this code needs no stack, no GDT of its own and no long mode.  It runs
 * in the 32-bit protected mode the multiboot loader leaves us in.
 *
 * Watching it happen under QEMU: add `-d int` and the log shows
 * check_exception lines for 0x6, 0xd and 0x8, then "Triple fault".
 */

        .section .text.boot, "ax"
        .code32
        .globl  _start
        .type   _start, @function
_start:
        cli                             /* the loader left IF = 0; be explicit */
        lidt    null_idtr               /* IDT: base 0, limit 0 */
        .globl  ud2_insn
ud2_insn:
        ud2                             /* #UD -> #GP -> #DF -> shutdown */

        /* Never reached.  If it is, the emulator resumed after the #UD
         * instead of shutting down; halt here so a debugger can see where. */
1:      hlt
        jmp     1b
        .size   _start, . - _start

        .section .data
        .align  4
        .word   0                       /* pad, so the base below is 4-byte aligned */
null_idtr:
        .word   0                       /* limit: 0 (one byte, no complete gate) */
        .long   0                       /* base: physical 0 */
