#!/usr/bin/env bash
# The test command of the README: install what is missing, build the guest images and the
# emulator, run every test. Exits non-zero when anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"

bash scripts/setup.sh
make -s -C GuestImages
swift build --build-tests
swift test --skip-build
