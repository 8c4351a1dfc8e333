# The same exploration as explore.vmxemu, through stock gdb and `monitor` (one command table:
# the same text as the REPL prints).
#
#   vmxemu run GuestImages/build/minivmm.elf -S            # gdb server on 127.0.0.1:1234
#   gdb -nx -batch -ex 'target remote 127.0.0.1:1234' -x GuestImages/minivmm/explore.gdb

monitor break exit CPUID
continue
monitor exit
monitor why
monitor vmcs get GUEST_RIP
monitor ctx guest
monitor disas rip 1
monitor ctx cpu
monitor vmcs list
monitor assert exit-reason == CPUID
monitor assert VM_EXIT_INSTRUCTION_LEN == 2
