/*
 * serial.c — output through COM1, a 16550-compatible UART at I/O port 0x3F8.
 *
 * The UART is eight byte-wide registers at 0x3F8..0x3FF.  The ones we use:
 *
 *   +0 THR   transmit holding register (write a byte to send it)
 *   +0 DLL   divisor latch, low byte   } visible instead of THR/IER while
 *   +1 DLM   divisor latch, high byte  } LCR bit 7 (DLAB) is set
 *   +1 IER   interrupt enable
 *   +2 FCR   FIFO control (write-only)
 *   +3 LCR   line control: word length, stop bits, parity, DLAB
 *   +4 MCR   modem control: DTR, RTS, OUT2
 *   +5 LSR   line status: bit 5 = THR empty, ready for the next byte
 *
 * Emulators (QEMU, vmxemu) transmit instantly and ignore the baud rate, but
 * we program the chip the way real hardware needs it, so the same code would
 * work on a real machine with a serial port.
 */
#include "guest.h"

#define COM1 0x3F8
#define UART_THR (COM1 + 0)
#define UART_DLL (COM1 + 0)
#define UART_IER (COM1 + 1)
#define UART_DLM (COM1 + 1)
#define UART_FCR (COM1 + 2)
#define UART_LCR (COM1 + 3)
#define UART_MCR (COM1 + 4)
#define UART_LSR (COM1 + 5)

#define LCR_8N1 0x03                   /* 8 data bits, no parity, 1 stop bit */
#define LCR_DLAB 0x80                  /* divisor latch access */
#define LSR_THRE 0x20                  /* transmit holding register empty */
#define LSR_TEMT 0x40                  /* transmitter empty: the last byte is out */

void serial_init(void)
{
    outb(UART_IER, 0x00);              /* no interrupts: we poll */
    outb(UART_LCR, LCR_DLAB);          /* expose the divisor latch */
    outb(UART_DLL, 0x01);              /* divisor 1: 115200 / 1 = 115200 baud */
    outb(UART_DLM, 0x00);
    outb(UART_LCR, LCR_8N1);           /* DLAB off again, 8N1 */
    outb(UART_FCR, 0xC7);              /* enable + clear both FIFOs, 14-byte trigger */
    outb(UART_MCR, 0x03);              /* DTR + RTS asserted */
}

void serial_putc(char c)
{
    /* Wait until the transmitter can take another byte.  Polling LSR before
     * every byte is what keeps output intact on real hardware. */
    while ((inb(UART_LSR) & LSR_THRE) == 0)
        ;
    outb(UART_THR, (uint8_t)c);
}

void serial_puts(const char *s)
{
    while (*s)
        serial_putc(*s++);
}

/* Wait until the UART has sent every byte, shift register included.  Needed
 * before stopping a machine that models transmission time (Bochs does). */
void serial_flush(void)
{
    while ((inb(UART_LSR) & LSR_TEMT) == 0)
        ;
}
