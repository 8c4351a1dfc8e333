/*
 * guest.c — start-up, exit, multiboot info and the PASS/FAIL bookkeeping.
 */
#include "guest.h"

void guest_init(void)
{
    serial_init();
    idt_init();
}

/*
 * Leave the machine.  Both vmxemu and QEMU (with
 * `-device isa-debug-exit,iobase=0xf4,iosize=4`) stop when port 0xF4 is
 * written: vmxemu exits with the value written, QEMU with (value << 1) | 1.
 * Without such a device the OUT does nothing, so say so, with the status
 * (bochs/run-bochs.sh reads it from this line), then write "Shutdown" to
 * port 0x8900, the shutdown port Bochs implements (its unmapped-port device;
 * elsewhere the writes go nowhere), and finally halt with interrupts off,
 * which stops the CPU for good.
 */
void guest_exit(uint32_t status)
{
    outl(EXIT_PORT, status);
    kprintf("guest_exit: port 0xF4 did not stop the machine (status %u); halting\n", status);
    serial_flush();
    for (const char *p = "Shutdown"; *p; p++)
        outb(BOCHS_SHUTDOWN_PORT, (uint8_t)*p);
    for (;;)
        __asm__ volatile("cli; hlt");
}

const char *multiboot_cmdline(uint32_t magic, uint32_t mbi)
{
    if (magic != MULTIBOOT_BOOTLOADER_MAGIC || mbi == 0)
        return NULL;
    /* Identity mapping: the physical addresses the loader gives us are
     * usable as pointers. */
    const struct multiboot_info *info = (const struct multiboot_info *)(uintptr_t)mbi;
    if (!(info->flags & MULTIBOOT_INFO_CMDLINE) || info->cmdline == 0)
        return NULL;
    return (const char *)(uintptr_t)info->cmdline;
}

unsigned checks_passed, checks_failed;

void pass(const char *name)
{
    checks_passed++;
    kprintf("PASS: %s\n", name);
}

void fail(const char *name, const char *fmt, ...)
{
    va_list ap;
    checks_failed++;
    kprintf("FAIL: %s (", name);
    va_start(ap, fmt);
    kvprintf(fmt, ap);
    va_end(ap);
    kprintf(")\n");
}

bool check_u64(const char *name, uint64_t got, uint64_t want)
{
    if (got == want) {
        pass(name);
        return true;
    }
    fail(name, "got 0x%lx, want 0x%lx", got, want);
    return false;
}

bool check_i64(const char *name, int64_t got, int64_t want)
{
    if (got == want) {
        pass(name);
        return true;
    }
    fail(name, "got %ld, want %ld", got, want);
    return false;
}

bool check_true(const char *name, bool ok)
{
    if (ok) {
        pass(name);
        return true;
    }
    fail(name, "got false, want true");
    return false;
}

int checks_report(const char *image)
{
    unsigned total = checks_passed + checks_failed;
    if (checks_failed == 0) {
        kprintf("%s: all %u checks passed\n", image, total);
        return GUEST_EXIT_OK;
    }
    kprintf("%s: %u of %u checks FAILED\n", image, checks_failed, total);
    return GUEST_EXIT_FAIL;
}
