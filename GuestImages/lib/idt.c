/*
 * idt.c — a 64-bit Interrupt Descriptor Table for the 32 architectural
 * exception vectors, and the C half of exception handling.
 *
 * Why bother, in programs that are not supposed to fault?  Without an IDT a
 * single stray exception escalates to a triple fault and the machine silently
 * resets: no output, no clue.  With one, every unexpected exception ends the
 * run with a line saying which exception, where, and why — the first thing
 * you want when bringing up a new CPU core under these images.
 */
#include "guest.h"

/*
 * A 64-bit IDT gate is 16 bytes (SDM Vol. 3A §6.14.1 "64-Bit Mode IDT"):
 * the handler's 64-bit address split in three, the code-segment selector to
 * load, an IST index (0 = stay on the current stack) and a type byte:
 *   bit 7    P, present
 *   6:5      DPL, the privilege needed to reach the gate with INT n
 *   3:0      type: 0xE = 64-bit interrupt gate (clears IF on entry),
 *                  0xF = 64-bit trap gate (leaves IF alone)
 */
struct idt_gate {
    uint16_t offset_0_15;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attr;
    uint16_t offset_16_31;
    uint32_t offset_32_63;
    uint32_t reserved;
} __attribute__((packed));

_Static_assert(sizeof(struct idt_gate) == 16, "64-bit IDT gates are 16 bytes");

#define GDT_CODE64 0x10               /* boot.S */
#define GATE_INTERRUPT_DPL0 0x8E      /* P = 1, DPL = 0, type = 0xE */

/* Room for all 256 vectors; those past 31 stay "not present", so a stray
 * interrupt shows up as a #NP (vector 11) whose error code names the IDT
 * slot, reported like any other exception. */
static struct idt_gate idt[256] __attribute__((aligned(16)));

extern const uint64_t isr_stub_table[32];   /* isr.S */

bool (*exception_hook)(struct trap_frame *frame);

void idt_init(void)
{
    for (unsigned v = 0; v < 32; v++) {
        uint64_t handler = isr_stub_table[v];
        idt[v].offset_0_15 = (uint16_t)handler;
        idt[v].selector = GDT_CODE64;
        idt[v].ist = 0;
        idt[v].type_attr = GATE_INTERRUPT_DPL0;
        idt[v].offset_16_31 = (uint16_t)(handler >> 16);
        idt[v].offset_32_63 = (uint32_t)(handler >> 32);
        idt[v].reserved = 0;
    }

    /* LIDT takes a 10-byte pseudo-descriptor in 64-bit mode: a 16-bit limit
     * (size - 1) followed by the 64-bit linear base (SDM Vol. 3A §6.10
     * "Interrupt Descriptor Table (IDT)"). */
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) idtr = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };
    __asm__ volatile("lidt %0" : : "m"(idtr));
}

static const char *const names[32] = {
    [0] = "#DE divide error",
    [1] = "#DB debug",
    [2] = "NMI",
    [3] = "#BP breakpoint",
    [4] = "#OF overflow",
    [5] = "#BR BOUND range exceeded",
    [6] = "#UD invalid opcode",
    [7] = "#NM device not available",
    [8] = "#DF double fault",
    [9] = "coprocessor segment overrun",
    [10] = "#TS invalid TSS",
    [11] = "#NP segment not present",
    [12] = "#SS stack-segment fault",
    [13] = "#GP general protection",
    [14] = "#PF page fault",
    [16] = "#MF x87 floating-point error",
    [17] = "#AC alignment check",
    [18] = "#MC machine check",
    [19] = "#XM SIMD floating-point",
    [20] = "#VE virtualization exception",
    [21] = "#CP control protection",
};

const char *exception_mnemonic(unsigned vector)
{
    if (vector < 32 && names[vector])
        return names[vector];
    return "reserved vector";
}

/* Called by isr_common with the saved state.  Returning resumes the guest at
 * frame->rip. */
void exception_dispatch(struct trap_frame *frame);
void exception_dispatch(struct trap_frame *frame)
{
    static int depth;

    if (exception_hook && exception_hook(frame))
        return;

    /* An exception while reporting an exception (say, the serial code
     * itself faults): do not recurse, just leave. */
    if (depth++ > 0)
        guest_exit(GUEST_EXIT_CRASH);

    kprintf("FAIL: unexpected exception %s (vector %u) error=0x%lx rip=0x%lx",
            exception_mnemonic((unsigned)frame->vector), (unsigned)frame->vector,
            frame->error_code, frame->rip);
    /* For a page fault CR2 holds the linear address that could not be
     * accessed (SDM Vol. 3A §4.7 "Page-Fault Exceptions"). */
    if (frame->vector == 14)
        kprintf(" cr2=0x%lx", read_cr2());
    kprintf("\n");
    kprintf("  rax=%016lx rbx=%016lx rcx=%016lx rdx=%016lx\n", frame->rax, frame->rbx, frame->rcx, frame->rdx);
    kprintf("  rsi=%016lx rdi=%016lx rbp=%016lx rsp=%016lx\n", frame->rsi, frame->rdi, frame->rbp, frame->rsp);
    kprintf("  r8 =%016lx r9 =%016lx r10=%016lx r11=%016lx\n", frame->r8, frame->r9, frame->r10, frame->r11);
    kprintf("  r12=%016lx r13=%016lx r14=%016lx r15=%016lx\n", frame->r12, frame->r13, frame->r14, frame->r15);
    kprintf("  cs=%04lx ss=%04lx rflags=%08lx cr3=%08lx\n", frame->cs, frame->ss, frame->rflags, read_cr3());
    guest_exit(GUEST_EXIT_CRASH);
}

/* Added for lib/ring3.c (paging-, privilege-, debugreg-tests): install one
 * gate with a chosen IST index, DPL and type (0xE interrupt, 0xF trap). */
void idt_set_gate(unsigned vec, uint64_t handler, unsigned ist, unsigned dpl, unsigned type);
void idt_set_gate(unsigned vec, uint64_t handler, unsigned ist, unsigned dpl, unsigned type)
{
    idt[vec].offset_0_15 = (uint16_t)handler;
    idt[vec].selector = GDT_CODE64;
    idt[vec].ist = (uint8_t)ist;
    idt[vec].type_attr = (uint8_t)(0x80 | (dpl << 5) | type);
    idt[vec].offset_16_31 = (uint16_t)(handler >> 16);
    idt[vec].offset_32_63 = (uint32_t)(handler >> 32);
    idt[vec].reserved = 0;
}
