// The "Must show" of issue 3: a C program compiled by gcc -O2 with SSE and x87 (double, float,
// long double, memcpy/memset, __int128 through libgcc) prints, as a guest, exactly what the same
// source prints when compiled for and run on this machine (GuestImages/numeric,
// build/numeric.expected is the native run's output).

import Foundation
import Testing
import TestSupport

@Suite(.requires(.imageTools))
struct NumericImageTests {
    static func expected() throws -> String {
        _ = try GuestImages.path("numeric")
        let url = Paths.guestImages.appendingPathComponent("build/numeric.expected")
        return try String(contentsOf: url, encoding: .utf8)
    }

    /// Line by line, so a failure names the first computation that differs.
    static func compare(_ got: String, _ want: String) {
        let g = RunResult.lines(got), w = RunResult.lines(want)
        #expect(w.count > 40 && w.last?.hasPrefix("numeric: ") == true, "the native reference looks wrong:\n\(want)")
        for (k, line) in w.enumerated() {
            let mine = k < g.count ? g[k] : "(missing)"
            if mine != line { Issue.record("line \(k + 1): guest printed\n  \(mine)\nnative printed\n  \(line)"); return }
        }
        #expect(g.count == w.count, "guest printed \(g.count) lines, native \(w.count)")
    }

    @Test func guestPrintsWhatTheNativeBuildPrints() throws {
        let want = try Self.expected()
        let r = try vmxemu(["run", try GuestImages.path("numeric")])
        #expect(r.status == 0, "\(r)")
        Self.compare(r.stdout, want)
    }

    /// The image itself is right: QEMU (TCG: softfloat SSE and x87) prints the native output too.
    @Test(.requires(.qemu))
    func qemuPrintsWhatTheNativeBuildPrints() throws {
        let want = try Self.expected()
        let r = try run(URL(fileURLWithPath: "/usr/bin/env"), [
            "qemu-system-x86_64", "-kernel", try GuestImages.path("numeric"), "-display", "none", "-serial", "stdio",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-no-reboot", "-m", "128", "-monitor", "none",
        ], timeout: 60)
        #expect(r.status == 1, "QEMU isa-debug-exit status (0 << 1) | 1 expected:\n\(r)")
        Self.compare(r.stdout, want)
    }
}
