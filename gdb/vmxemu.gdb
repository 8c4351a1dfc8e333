# vmxemu.gdb — what stock gdb (13 or newer) needs to debug a vmxemu machine.
#
#   vmxemu run IMAGE -S                      # gdb server on 127.0.0.1:1234, CPU waits
#   gdb -x gdb/vmxemu.gdb IMAGE              # IMAGE gives gdb the symbols and source lines
#   (gdb) vmxemu-connect                     # = target remote 127.0.0.1:1234
#   (gdb) break kmain
#   (gdb) continue
#
# Without IMAGE on gdb's command line, gdb still finds the symbols: vmxemu names the image it
# booted (qXfer:exec-file) and serves it to gdb (vFile), so "Reading symbols from target:…".
#
# What the machine looks like to gdb
#   * process 1 = the VMM context (VMX root), thread 1.1 "VMM vCPU0". Each guest (one per VMCS
#     the VMM enters) is another process, 2, 3, …: `info os processes`, then `add-inferior`,
#     `inferior 2`, `attach 2` (vmxemu-connect-extended). A guest that is off the CPU shows the
#     registers its VMCS holds; writing rip, rsp, eflags, a selector, fs/gs base, cr0/cr3/cr4,
#     gdtr/idtr or dr7 writes its VMCS guest-state field (the VMM's: host-state field); other
#     registers are refused with a message naming them.
#   * Registers: the x86-64 set in every CPU mode, plus cr0 cr2 cr3 cr4 cr8 efer k_gs_base
#     gdtr/idtr dr0-dr7 (decoded: `info registers cr0` → [ PE ET PG ]) and the read-only VMX
#     registers (vmx_mode 0 = outside VMX operation), and the x87, MMX and SSE registers.
#   * Breakpoints never patch guest memory; hardware breakpoints and watchpoints (watch/rwatch/
#     awatch) are unlimited and report after the access, with the address.
#   * Memory is read through the current paging, never faulting the guest and never setting
#     accessed/dirty bits. Physical memory: add 0x8000000000000000 (a non-canonical tag),
#     e.g. `x/4xg 0x8000000000000000 + 0x10c000`, or `monitor phys on` / `monitor phys off`
#     (then every address is physical). QEMU's `maint packet Qqemu.PhyMemMode:1` works too.
#     gdb caches some memory between stops: after toggling the view, `flushregs` refreshes it.
#   * `monitor help` lists the emulator's own commands — the same table as the REPL (vmxemu run
#     IMAGE --repl): status, regs, translate, phys, vmcs, why, exit, exits, ctl, caps, decode,
#     msrbitmap, iobitmap, break exit|entry|entry-fail|vmfail|vmx, ctx, disas, xlate, x, assert…
#     Run control (c, si, next-exit) and host files (exits --save) stay with the REPL. VMX
#     breakpoints (monitor break exit CPUID) belong to the machine: they outlive a gdb session,
#     `monitor status` lists them and the next gdb to connect is told (vmxemu's log).
#   * `kill` ends vmxemu; `detach` (or quitting gdb) leaves the machine stopped where it is, and
#     the next gdb that connects finds it there. One gdb at a time.
#
# Real mode (vmxemu run --bios ROM starts at the reset vector)
#   gdb does not add the CS base: $pc is the offset (IP), not the linear address. Use linear
#   addresses — `break *0xffff0`, `x/4i $cs*16 + $pc` — and, to disassemble 16-bit code,
#   `set architecture i8086` (back with `set architecture i386:x86-64`; the register set
#   does not change). `monitor status` shows the CPU mode and the linear address of RIP.

# gdb reads the register layout once, at connect; vmxemu always sends the x86-64 one (also in
# 16/32-bit code), so a 32-bit ELF must not switch gdb to i386 ("'g' packet reply is too long").
set architecture i386:x86-64

# Stop and resume every context together; with it off gdb keeps stale registers for the
# contexts (VMM and guests) it did not resume.
set schedule-multiple on

# Keep gdb from prompting in the middle of long listings (monitor regs, info registers).
set height 0

define vmxemu-connect
  if $argc == 0
    target remote 127.0.0.1:1234
  end
  if $argc == 1
    target remote 127.0.0.1:$arg0
  end
  if $argc == 2
    target remote $arg0:$arg1
  end
end
document vmxemu-connect
Connect to a vmxemu gdb server: vmxemu-connect [[HOST] PORT]  (default 127.0.0.1 1234).
end

define vmxemu-connect-extended
  if $argc == 0
    target extended-remote 127.0.0.1:1234
  end
  if $argc == 1
    target extended-remote 127.0.0.1:$arg0
  end
  if $argc == 2
    target extended-remote $arg0:$arg1
  end
end
document vmxemu-connect-extended
Connect in extended mode (to attach guest contexts as extra inferiors): vmxemu-connect-extended [[HOST] PORT].
end

define vmxemu-status
  monitor status
end
document vmxemu-status
The machine's run state, CPU mode, RIP with its symbol, why it stopped, instructions retired.
end

define vmxemu-phys
  if $argc == 1
    x/8xg 0x8000000000000000 + ($arg0)
  end
  if $argc == 2
    x/$arg1xg 0x8000000000000000 + ($arg0)
  end
end
document vmxemu-phys
Show physical memory as quadwords: vmxemu-phys ADDR [COUNT]  (through the 0x8000000000000000 tag).
end
