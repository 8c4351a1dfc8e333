/*
 * irq-tests — the PC's interrupt hardware as a bare-metal kernel uses it: the 8259 pair with the
 * 8254 PIT, the local APIC (timer, TPR, self-IPI, EOI), the I/O APIC, the RTC, the HPET and the
 * ACPI tables with the PM timer.  Passes under vmxemu and QEMU TCG (-machine pc).
 *
 * References: SDM 325462-077US Vol. 3A §6.8.1 "Masking Maskable Hardware Interrupts", §6.9
 * (STI shadow), ch. 10 "Advanced Programmable Interrupt Controller (APIC)" (§10.5.4 "APIC Timer",
 * §10.8.3.1 "Task and Processor Priorities", §10.6.1 "Interrupt Command Register (ICR)", §10.8.5
 * "Signaling Interrupt Servicing Completion"); the 8259A and 8254 datasheets; 82093AA I/O APIC
 * datasheet §3; MC146818A datasheet; IA-PC HPET 1.0a §2.3; ACPI 6.4 §5.2.5 (RSDP), §5.2.9 (FADT),
 * §4.8.3.3 (PM timer).
 *
 * Interrupt handlers are tiny asm stubs: each increments its counter, sends the EOI its
 * controller needs, and IRETQs.
 */
#include "guest.h"

void idt_set_gate(unsigned vec, uint64_t handler, unsigned ist, unsigned dpl, unsigned type);

#define LAPIC 0xFEE00000ul
#define IOAPIC 0xFEC00000ul
#define HPET_BASE 0xFED00000ul

static inline uint32_t mmio_r(uint64_t a) { return *(volatile uint32_t *)a; }
static inline void mmio_w(uint64_t a, uint32_t v) { *(volatile uint32_t *)a = v; }
static inline uint64_t mmio_r64(uint64_t a) { return *(volatile uint64_t *)a; }
static inline void mmio_w64(uint64_t a, uint64_t v) { *(volatile uint64_t *)a = v; }
static inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
/* STI; HLT: the STI shadow keeps an interrupt from arriving between the two (SDM §6.8.3). */
static inline void sti_hlt(void) { __asm__ volatile("sti; hlt" ::: "memory"); }

/* Counters the stubs increment. */
volatile uint64_t pic_ticks, lapic_ticks, ipi_hits, ioapic_ticks, rtc_hits, isr_seen_in_ipi;

/* Stubs: save the registers they use, count, EOI, IRETQ. */
__asm__(".text\n"
        ".globl pic_irq0_stub\npic_irq0_stub:\n"
        "  push %rax\n  incq pic_ticks(%rip)\n  movb $0x20, %al\n  outb %al, $0x20\n  pop %rax\n  iretq\n"
        ".globl lapic_timer_stub\nlapic_timer_stub:\n"
        "  push %rax\n  incq lapic_ticks(%rip)\n  movabs $0xFEE000B0, %rax\n  movl $0, (%rax)\n  pop %rax\n  iretq\n"
        ".globl ipi_stub\nipi_stub:\n"
        "  push %rax\n  incq ipi_hits(%rip)\n"
        /* ISR bit of vector 0x41: ISR register 2 (vectors 0x40-0x5F) at 0x120, bit 1. */
        "  movabs $0xFEE00120, %rax\n  movl (%rax), %eax\n  movl %eax, isr_seen_in_ipi(%rip)\n"
        "  movabs $0xFEE000B0, %rax\n  movl $0, (%rax)\n  pop %rax\n  iretq\n"
        ".globl ioapic_stub\nioapic_stub:\n"
        "  push %rax\n  incq ioapic_ticks(%rip)\n  movabs $0xFEE000B0, %rax\n  movl $0, (%rax)\n  pop %rax\n  iretq\n"
        ".globl rtc_stub\nrtc_stub:\n"
        "  push %rax\n  incq rtc_hits(%rip)\n"
        "  movb $0x0C, %al\n  outb %al, $0x70\n  inb $0x71, %al\n" /* read C: acknowledges IRQ 8 */
        "  movb $0x20, %al\n  outb %al, $0xA0\n  outb %al, $0x20\n  pop %rax\n  iretq\n"
        ".globl spurious_stub\nspurious_stub:\n  iretq\n");
extern char pic_irq0_stub[], lapic_timer_stub[], ipi_stub[], ioapic_stub[], rtc_stub[], spurious_stub[];

static void pic_init(uint8_t master_mask, uint8_t slave_mask)
{
    outb(0x20, 0x11); outb(0x21, 0x20); outb(0x21, 0x04); outb(0x21, 0x01);
    outb(0xA0, 0x11); outb(0xA1, 0x28); outb(0xA1, 0x02); outb(0xA1, 0x01);
    outb(0x21, master_mask); outb(0xA1, slave_mask);
}

/* PIT counter 0, mode 2, `count` input clocks per interrupt. */
static void pit_rate(uint16_t count)
{
    outb(0x43, 0x34);
    outb(0x40, count & 0xFF);
    outb(0x40, count >> 8);
}

static uint16_t pit_read0(void)
{
    outb(0x43, 0x00);  /* latch counter 0 */
    uint8_t lo = inb(0x40), hi = inb(0x40);
    return (uint16_t)(lo | hi << 8);
}

static void test_pic_pit(void)
{
    pic_init(0xFE, 0xFF);               /* only IRQ0 */
    pit_rate(1193);                     /* ~1 kHz */
    pic_ticks = 0;
    for (int i = 0; i < 10000 && pic_ticks < 10; i++)
        sti_hlt();
    cli();
    check_true("pic: ten IRQ0s from the PIT (sti; hlt sleeps until the timer)", pic_ticks >= 10);
    /* Masked: the counter moves but no interrupt is taken. */
    outb(0x21, 0xFF);
    uint64_t before = pic_ticks;
    sti();
    for (int i = 0; i < 20000; i++) barrier();
    uint16_t a = pit_read0();
    for (int i = 0; i < 20000; i++) barrier();
    uint16_t b = pit_read0();
    cli();
    check_u64("pic: IMR masks IRQ0", pic_ticks, before);
    check_true("pit: counter 0 counts down", a != b);
    outb(0x20, 0x0B);
    check_u64("pic: nothing in service after EOI", inb(0x20), 0);
    check_u64("pic: IMR reads back", inb(0x21), 0xFF);
    pit_rate(0);                        /* 65536: slow */
}

static void test_lapic(void)
{
    uint32_t ver = mmio_r(LAPIC + 0x30);
    check_u64("lapic: version 0x14 (integrated)", ver & 0xFF, 0x14);
    check_true("lapic: at least 6 LVT entries", ((ver >> 16) & 0xFF) >= 5);
    mmio_w(LAPIC + 0xF0, 0x1FF);        /* SVR: enabled, spurious vector 0xFF */
    mmio_w(LAPIC + 0x80, 0);            /* TPR 0 */
    /* One-shot timer: divide by 16, vector 0x40. */
    lapic_ticks = 0;
    mmio_w(LAPIC + 0x3E0, 0x3);
    mmio_w(LAPIC + 0x320, 0x40);
    mmio_w(LAPIC + 0x380, 100000);
    for (int i = 0; i < 1000 && !lapic_ticks; i++)
        sti_hlt();
    cli();
    check_u64("lapic: one-shot timer fired once", lapic_ticks, 1);
    check_u64("lapic: current count 0 after one-shot", mmio_r(LAPIC + 0x390), 0);
    /* Periodic. */
    lapic_ticks = 0;
    mmio_w(LAPIC + 0x320, 0x40 | 1 << 17);
    mmio_w(LAPIC + 0x380, 20000);
    for (int i = 0; i < 1000 && lapic_ticks < 5; i++)
        sti_hlt();
    cli();
    mmio_w(LAPIC + 0x320, 0x40 | 1 << 16);  /* masked */
    mmio_w(LAPIC + 0x380, 0);
    check_true("lapic: periodic timer fired 5 times", lapic_ticks >= 5);
    /* TPR: priority class 4 (vectors 0x40-0x4F) blocked while TPR = 0x50. */
    ipi_hits = 0;
    mmio_w(LAPIC + 0x80, 0x50);
    sti();
    mmio_w(LAPIC + 0x300, 0x00044041);  /* self, fixed, vector 0x41 */
    for (int i = 0; i < 1000; i++) barrier();
    check_u64("lapic: TPR 0x50 holds vector 0x41 back", ipi_hits, 0);
    check_true("lapic: vector 0x41 pending in IRR", mmio_r(LAPIC + 0x220) & 2);
    mmio_w(LAPIC + 0x80, 0x00);
    for (int i = 0; i < 1000 && !ipi_hits; i++) barrier();
    cli();
    check_u64("lapic: self-IPI taken once TPR drops", ipi_hits, 1);
    check_true("lapic: ISR bit set while the handler runs", isr_seen_in_ipi & 2);
    check_u64("lapic: ICR delivery status idle", mmio_r(LAPIC + 0x300) & (1 << 12), 0);
}

static uint32_t ioapic_read(uint32_t reg) { mmio_w(IOAPIC, reg); return mmio_r(IOAPIC + 0x10); }
static void ioapic_write(uint32_t reg, uint32_t v) { mmio_w(IOAPIC, reg); mmio_w(IOAPIC + 0x10, v); }

static void test_ioapic(void)
{
    uint32_t ver = ioapic_read(1);
    check_u64("ioapic: version 0x20-class, 24 pins", ver & 0x00FF00FF, 0x00170020 & 0x00FF00FF);
    /* PIT on pin 2 (the IRQ0 override), edge, vector 0x50, to APIC 0; the 8259s all masked. */
    pic_init(0xFF, 0xFF);
    ioapic_write(0x10 + 2 * 2 + 1, 0);
    ioapic_write(0x10 + 2 * 2, 0x50);
    pit_rate(1193);
    ioapic_ticks = 0;
    for (int i = 0; i < 10000 && ioapic_ticks < 5; i++)
        sti_hlt();
    cli();
    ioapic_write(0x10 + 2 * 2, 0x50 | 1 << 16);
    pit_rate(0);
    check_true("ioapic: PIT ticks through pin 2", ioapic_ticks >= 5);
    check_u64("ioapic: redirection entry reads back", ioapic_read(0x14) & 0x1FFFF, 0x10050);
}

static uint8_t cmos(uint8_t i) { outb(0x70, i); return inb(0x71); }

static void test_rtc(void)
{
    uint8_t b = cmos(0x0B);
    uint8_t sec = cmos(0x00), month = cmos(0x08);
    if (!(b & 4)) {   /* BCD */
        check_true("rtc: seconds are BCD", (sec & 0xF) < 10 && (sec >> 4) < 6);
        check_true("rtc: month is BCD 1-12", month >= 1 && month <= 0x12 && (month & 0xF) < 10);
    } else {
        check_true("rtc: seconds < 60", sec < 60);
    }
    check_u64("rtc: register D valid RAM and time", cmos(0x0D) & 0x80, 0x80);
    /* Periodic interrupt on IRQ 8 at 1024 Hz through the 8259 cascade. */
    pic_init(0xFB, 0xFE);               /* master IR2 (cascade), slave IR0 (IRQ 8) */
    outb(0x70, 0x0A); outb(0x71, 0x26); /* 32.768 kHz base, RS = 6: 1024 Hz */
    outb(0x70, 0x0B); outb(0x71, (uint8_t)(cmos(0x0B) | 0x40));
    (void)cmos(0x0C);
    rtc_hits = 0;
    for (int i = 0; i < 10000 && rtc_hits < 4; i++)
        sti_hlt();
    cli();
    outb(0x70, 0x0B); outb(0x71, (uint8_t)(cmos(0x0B) & ~0x40));
    (void)cmos(0x0C);
    pic_init(0xFF, 0xFF);
    check_true("rtc: periodic interrupts on IRQ 8", rtc_hits >= 4);
}

static void test_hpet(void)
{
    uint64_t cap = mmio_r64(HPET_BASE);
    check_true("hpet: 64-bit counter, legacy capable", (cap & (1 << 13)) && (cap & (1 << 15)));
    uint32_t period = (uint32_t)(cap >> 32);
    check_true("hpet: period between 0.1 and 100 ns", period >= 100000 && period <= 100000000);
    mmio_w64(HPET_BASE + 0x10, 1);      /* enable */
    uint64_t a = mmio_r64(HPET_BASE + 0xF0);
    for (int i = 0; i < 10000; i++) barrier();
    uint64_t b = mmio_r64(HPET_BASE + 0xF0);
    check_true("hpet: main counter runs", b > a);
    mmio_w64(HPET_BASE + 0x10, 0);
}

static bool sum_ok(const uint8_t *p, unsigned n)
{
    uint8_t s = 0;
    for (unsigned i = 0; i < n; i++) s += p[i];
    return s == 0;
}

static void test_acpi(void)
{
    const uint8_t *rsdp = 0;
    for (uint64_t a = 0xE0000; a < 0x100000; a += 16)
        if (memcmp((const void *)a, "RSD PTR ", 8) == 0) { rsdp = (const uint8_t *)a; break; }
    if (!check_true("acpi: RSDP found in 0xE0000-0xFFFFF", rsdp != 0)) return;
    check_true("acpi: RSDP checksum", sum_ok(rsdp, 20));
    const uint8_t *rsdt = (const uint8_t *)(uint64_t)*(const uint32_t *)(rsdp + 16);
    uint32_t len = *(const uint32_t *)(rsdt + 4);
    check_true("acpi: RSDT checksum", memcmp(rsdt, "RSDT", 4) == 0 && sum_ok(rsdt, len));
    const uint8_t *facp = 0, *madt = 0;
    for (uint32_t o = 36; o + 4 <= len; o += 4) {
        const uint8_t *t = (const uint8_t *)(uint64_t)*(const uint32_t *)(rsdt + o);
        if (memcmp(t, "FACP", 4) == 0) facp = t;
        if (memcmp(t, "APIC", 4) == 0) madt = t;
    }
    if (!check_true("acpi: FADT and MADT listed", facp && madt)) return;
    check_true("acpi: FADT checksum", sum_ok(facp, *(const uint32_t *)(facp + 4)));
    check_u64("acpi: MADT local APIC address", *(const uint32_t *)(madt + 36), 0xFEE00000);
    uint16_t pmtmr = (uint16_t)*(const uint32_t *)(facp + 76);
    check_true("acpi: PM timer block given", pmtmr != 0);
    uint32_t prev = inl(pmtmr), bad = 0;
    for (int i = 0; i < 1000; i++) {
        uint32_t now = inl(pmtmr);
        if ((uint32_t)(now - prev) > 0x800000) bad++;
        prev = now;
    }
    check_u64("acpi: PM timer monotonic", bad, 0);
}

int kmain(uint32_t magic, uint32_t mbi)
{
    (void)magic; (void)mbi;
    idt_set_gate(0x20, (uint64_t)pic_irq0_stub, 0, 0, 0xE);
    idt_set_gate(0x28, (uint64_t)rtc_stub, 0, 0, 0xE);
    idt_set_gate(0x27, (uint64_t)spurious_stub, 0, 0, 0xE);
    idt_set_gate(0x2F, (uint64_t)spurious_stub, 0, 0, 0xE);
    idt_set_gate(0x40, (uint64_t)lapic_timer_stub, 0, 0, 0xE);
    idt_set_gate(0x41, (uint64_t)ipi_stub, 0, 0, 0xE);
    idt_set_gate(0x50, (uint64_t)ioapic_stub, 0, 0, 0xE);
    idt_set_gate(0xFF, (uint64_t)spurious_stub, 0, 0, 0xE);
    test_pic_pit();
    test_lapic();
    test_ioapic();
    test_rtc();
    test_hpet();
    test_acpi();
    return checks_report("irq-tests");
}
