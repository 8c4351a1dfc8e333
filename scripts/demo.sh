#!/usr/bin/env bash
# The demo of the README: build everything (release), boot the `hello` guest (long mode, greeting,
# self-checks), then run the `minivmm` guest VMM under
# vmxemu with the gdb server up, and let stock gdb walk through it: a breakpoint in the guest
# (VMX non-root, gdb process 2) and one in the VMM's exit handler (VMX root, process 1), then on
# to the end. The guest's serial output goes to stdout; gdb's transcript follows it.
#   scripts/demo.sh --interactive    wait for your own gdb instead (the command is printed)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"

bash scripts/setup.sh
make -s -C GuestImages
echo "demo: building vmxemu (release; the first build takes a few minutes)…" >&2
swift build -c release --product vmxemu 2>&1 | grep -E 'error|warning: unre|Compiling vmxemu|Build' >&2 || true
swift build -c release --product vmxemu >/dev/null

# First the walking skeleton: `hello` reaches long mode, greets and self-checks.
echo "demo: vmxemu run GuestImages/build/hello.elf --append 'demo=1'" >&2
.build/release/vmxemu run GuestImages/build/hello.elf --append 'demo=1' | grep -E '^Hello|^cmdline|all [0-9]+ checks'

image=GuestImages/build/minivmm.elf
if [ "${1:-}" = "--interactive" ]; then
    echo "demo: vmxemu run $image -s -S   (then, in another terminal:" >&2
    echo "      gdb -x gdb/vmxemu.gdb $image -ex 'target extended-remote 127.0.0.1:1234')" >&2
    exec .build/release/vmxemu run "$image" -s -S
fi

log=$(mktemp); trap 'rm -f "$log"' EXIT
echo "demo: vmxemu run $image --gdb 127.0.0.1:0 -S   (the CPU waits for gdb)" >&2
.build/release/vmxemu run "$image" --gdb 127.0.0.1:0 -S 2>"$log" &
vm=$!
port=""
for _ in $(seq 1 100); do
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log" | head -n1)
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { cat "$log" >&2; echo "demo: the gdb server did not start" >&2; exit 1; }
echo "demo: gdb server on 127.0.0.1:$port — stock gdb attaches to the VMM and to its guest" >&2
gdb -nx -batch -x gdb/vmxemu.gdb "$image" \
    -ex "target extended-remote 127.0.0.1:$port" \
    -ex "info os processes" \
    -ex "add-inferior" -ex "inferior 2" -ex "attach 2" -ex "break guest_main" \
    -ex "inferior 1" -ex "break handle_exit" \
    -ex "continue" -ex "bt 1" \
    -ex "continue" -ex "p/x \$exit_reason" -ex "monitor exit" \
    -ex "delete" -ex "continue" 2>&1 | sed 's/^/gdb| /'
wait "$vm"
status=$?
cat "$log" >&2
echo "demo: vmxemu exited with status $status" >&2
exit "$status"
