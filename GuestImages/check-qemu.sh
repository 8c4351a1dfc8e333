#!/bin/sh
# check-qemu.sh — build every guest image and run it under QEMU, the
# independent proof that the images themselves are correct (QEMU has no VMX,
# but runs everything else here).
#
# Prints one line per image, "ok NAME" or "not ok NAME", each followed by a
# "# ..." note (QEMU's exit status, run time, reason on failure), then a
# summary.  Exit status: 0 if every image behaved, 1 if not, 77 if
# qemu-system-x86_64 is not installed (Debian: apt-get install qemu-system-x86).
#
# Expected behaviour (see README.md):
#   hello, fault-tests, bench-*   write 0 to port 0xF4 -> QEMU exits (0<<1)|1 = 1,
#                                 and no serial line starts with "FAIL"
#   paging-tests, privilege-tests, debugreg-tests, task-tests, v86-tests, irq-tests
#                                 the same, plus "NAME: all N checks passed";
#                                 run with -cpu max,vendor=GenuineIntel
#   ud2-triple                    triple fault; with -no-reboot QEMU exits 0
#                                 and the serial port stays silent
#
# Serial output of each run is kept in build/qemu/NAME.log.
set -u

here=$(cd "$(dirname "$0")" && pwd)
qemu=${QEMU:-qemu-system-x86_64}

if ! command -v "$qemu" >/dev/null 2>&1; then
    echo "SKIP: qemu-system-x86_64 not installed"
    exit 77
fi

make -C "$here" >/dev/null || {
    echo "not ok build # make -C GuestImages failed"
    exit 1
}

logs=$here/build/qemu
mkdir -p "$logs"
passed=0
failed=0

# run NAME [QEMU ARGS...]: boots build/NAME.elf; sets $status, $seconds; serial to the log.
run() {
    name=$1
    shift
    start=$(date +%s%N)
    timeout 600 "$qemu" -kernel "$here/build/$name.elf" "$@" \
        -device isa-debug-exit,iobase=0xf4,iosize=4 \
        -serial stdio -display none -monitor none -no-reboot -m 128 \
        </dev/null >"$logs/$name.log" 2>"$logs/$name.stderr"
    status=$?
    end=$(date +%s%N)
    seconds=$(awk -v ns=$((end - start)) 'BEGIN { printf "%.2f", ns / 1e9 }')
}

report() {  # report NAME OK(0/1) NOTE
    if [ "$2" -eq 0 ]; then
        echo "ok $1 # $3"
        passed=$((passed + 1))
    else
        echo "not ok $1 # $3"
        failed=$((failed + 1))
    fi
}

# judge NAME: sets $bad and $note from the exit status (isa-debug-exit: 1 = guest exit 0) and
# the FAIL lines of the log.
judge() {
    note="qemu exit $status in ${seconds}s"
    bad=0
    if [ "$status" -ne 1 ]; then
        bad=1
        case $status in
        124) note="$note (timed out)" ;;
        3) note="$note (guest exit 1: a check failed)" ;;
        5) note="$note (guest exit 2: unexpected exception)" ;;
        *) note="$note (want 1 = guest exit 0)" ;;
        esac
    fi
    if grep -q '^FAIL' "$logs/$1.log"; then
        bad=1
        note="$note; $(grep -c '^FAIL' "$logs/$1.log") FAIL line(s), first: $(grep -m1 '^FAIL' "$logs/$1.log")"
    fi
}

for name in hello fault-tests bench-int bench-call bench-copy; do
    run "$name"
    judge "$name"
    if [ "$name" = hello ] && ! grep -q 'Hello from vmxemu guest' "$logs/$name.log"; then
        bad=1
        note="$note; no greeting line"
    fi
    report "$name" "$bad" "$note"
done

# The privileged-path images want the features they test: 1 GiB pages and NX
# (paging-tests) and the Intel behaviour of SYSENTER/SYSEXIT in 64-bit mode
# (privilege-tests; an AMD vendor string makes SYSENTER #UD there).  "max"
# is TCG's everything-it-implements model; the vendor is set to Intel's.
for name in paging-tests privilege-tests debugreg-tests task-tests v86-tests irq-tests; do
    run "$name" -cpu max,vendor=GenuineIntel
    judge "$name"
    if ! grep -q "^$name: all [0-9]* checks passed" "$logs/$name.log"; then
        bad=1
        note="$note; no '$name: all N checks passed' line"
    fi
    skips=$(grep -c '^SKIP' "$logs/$name.log")
    [ "$skips" -gt 0 ] && note="$note; $skips SKIP line(s) (QEMU deviations, README)"
    report "$name" "$bad" "$note"
done

run ud2-triple
note="qemu exit $status in ${seconds}s"
bad=0
if [ "$status" -ne 0 ]; then
    bad=1
    note="$note (want 0: shutdown on triple fault with -no-reboot)"
fi
if [ -s "$logs/ud2-triple.log" ]; then
    bad=1
    note="$note; unexpected serial output"
fi
report ud2-triple "$bad" "$note"

# realmode is firmware: boot it with -bios and expect the same exit convention.
start=$(date +%s%N)
timeout 60 "$qemu" -bios "$here/build/realmode.bin" \
    -device isa-debug-exit,iobase=0xf4,iosize=4 \
    -serial stdio -display none -monitor none -no-reboot -m 128 \
    </dev/null >"$logs/realmode.log" 2>"$logs/realmode.stderr"
status=$?
end=$(date +%s%N)
seconds=$(awk -v ns=$((end - start)) 'BEGIN { printf "%.2f", ns / 1e9 }')
note="qemu exit $status in ${seconds}s"
bad=0
if [ "$status" -ne 1 ] || ! grep -q 'realmode: all checks passed' "$logs/realmode.log"; then
    bad=1
    note="$note (want 1 = guest exit 0, and 'all checks passed')"
fi
report realmode "$bad" "$note"

echo "check-qemu: $passed ok, $failed not ok"
[ "$failed" -eq 0 ]
