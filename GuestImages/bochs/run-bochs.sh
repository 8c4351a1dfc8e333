#!/bin/sh
# run-bochs.sh IMAGE.elf — run a GuestImages multiboot image under Bochs 2.7,
# the independent VMX implementation we compare against.
#
# Bochs cannot load a multiboot kernel, so this runs the firmware file the
# Makefile builds next to it, build/bochs/NAME.rom (the image's load bytes +
# the 4 KiB loader of bochs/loader.S), as Bochs's ROM.  The guest's COM1
# output is printed on stdout; Bochs's own log is kept in
# build/bochs/NAME.bochs.log (VMX entry-check failures are logged there).
#
# The guest ends with guest_exit(status) (lib/guest.c): port 0xF4 does not
# exist in Bochs, so the guest prints
#   guest_exit: port 0xF4 did not stop the machine (status N); halting
# and writes "Shutdown" to Bochs's shutdown port 0x8900, which ends Bochs.
#
# Exit status: the guest's status N (0 = success), 124 if Bochs had to be
# killed after BOCHS_TIMEOUT seconds (default 300), 125 if the guest never
# reported a status (Bochs panicked: see the log), 77 if bochs is not
# installed (Debian: apt-get install bochs bochsbios), 2 for a usage error.
set -u

if [ $# -ne 1 ]; then
    echo "usage: $0 build/NAME.elf" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
bochs=${BOCHS:-bochs}
if ! command -v "$bochs" >/dev/null 2>&1; then
    echo "SKIP: bochs not installed (Debian: apt-get install bochs bochsbios)" >&2
    exit 77
fi
if ! "$bochs" -help cpu 2>&1 | grep -q '^corei7_skylake_x$'; then
    echo "SKIP: this bochs has no corei7_skylake_x CPU model (Bochs 2.7 with VMX wanted)" >&2
    exit 77
fi

elf=$1
name=$(basename "$elf" .elf)
build=$(cd "$(dirname "$elf")" && pwd)
rom=$build/bochs/$name.rom
if [ ! -f "$rom" ]; then
    echo "run-bochs: $rom not found (make -C GuestImages builds it)" >&2
    exit 2
fi

out=$build/bochs
serial=$out/$name.serial
log=$out/$name.bochs.log
rc=$out/$name.bochsrc
rm -f "$serial" "$log"
sed -e "s|@ROM@|$rom|" -e "s|@SERIAL@|$serial|" -e "s|@LOG@|$log|" \
    "$here/bochsrc.in" >"$rc"

# -q: no start menu.  Debian's Bochs has the internal debugger compiled in and
# stops before the first instruction: -rc feeds it "continue" (and "quit" in
# case the simulation ever returns to the debugger prompt).
printf 'continue\nquit\n' >"$out/$name.bochs-debugger-commands"
timeout "${BOCHS_TIMEOUT:-300}" "$bochs" -q -f "$rc" -rc "$out/$name.bochs-debugger-commands" \
    </dev/null >"$out/$name.bochs.stdout" 2>&1
brc=$?

[ -f "$serial" ] && cat "$serial"
if [ "$brc" -eq 124 ]; then
    echo "run-bochs: bochs timed out after ${BOCHS_TIMEOUT:-300} s (log: $log)" >&2
    exit 124
fi
status=$(sed -n 's/^guest_exit: port 0xF4 did not stop the machine (status \([0-9]*\)); halting.*/\1/p' "$serial" 2>/dev/null | tail -n 1)
if [ -z "$status" ]; then
    echo "run-bochs: the guest reported no exit status (bochs exit $brc; log: $log)" >&2
    grep -E 'PANIC|FATAL|>>PANIC<<' "$log" 2>/dev/null | head -5 >&2
    exit 125
fi
exit "$status"
