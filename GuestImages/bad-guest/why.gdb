# bad-guest's failed VM entry explained through stock gdb and `monitor` (same text as why.vmxemu).
#
#   vmxemu run GuestImages/build/bad-guest.elf -S          # gdb server on 127.0.0.1:1234
#   gdb -nx -batch -ex 'target remote 127.0.0.1:1234' -x GuestImages/bad-guest/why.gdb

monitor break entry-fail
continue
monitor why
monitor assert VM_EXIT_REASON == 0x80000021
