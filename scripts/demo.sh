#!/usr/bin/env bash
# The demo of the README: build everything (release), then boot the `hello` guest.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"

bash scripts/setup.sh
make -s -C GuestImages
echo "demo: building vmxemu (release; the first build takes a few minutes)…" >&2
swift build -c release --product vmxemu 2>&1 | grep -E 'error|warning: unre|Compiling vmxemu|Build' >&2 || true
swift build -c release --product vmxemu >/dev/null
echo "demo: vmxemu run GuestImages/build/hello.elf --append 'demo=1'" >&2
exec .build/release/vmxemu run GuestImages/build/hello.elf --append 'demo=1' "$@"
