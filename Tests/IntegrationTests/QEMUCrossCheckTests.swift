// The guest images under QEMU (GuestImages/check-qemu.sh): the independent proof that the images
// themselves behave, so a failure in the other tests points at vmxemu, not at the guest.

import Foundation
import Testing
import TestSupport

@Suite(.requires(.imageTools, .qemu))
struct QEMUCrossCheckTests {
    @Test func everyImageBehavesUnderQEMU() throws {
        // Build through the shared once-per-run make first, so the script's own make has nothing
        // to do and cannot race the other tests' build.
        _ = try GuestImages.path("hello")
        let script = Paths.guestImages.appendingPathComponent("check-qemu.sh")
        let r = try run(URL(fileURLWithPath: "/bin/sh"), [script.path], timeout: 600)
        if r.status == 77 {
            let reason = r.stdoutLines.first { $0.hasPrefix("SKIP") } ?? r.stdout
            try Oracle.qemu.unusable("check-qemu.sh exit 77: \(reason)")
        }
        #expect(r.status == 0, "check-qemu.sh failed:\n\(r.stdout)\(r.stderr)")

        let ok = r.stdoutLines.filter { $0.hasPrefix("ok ") }
        let notOK = r.stdoutLines.filter { $0.hasPrefix("not ok") }
        #expect(notOK.isEmpty, "\(notOK.joined(separator: "\n"))")
        // Every image the other tests use was checked.
        let names = Set(ok.compactMap { $0.split(separator: " ").dropFirst().first.map(String.init) })
        for image in ["hello", "fault-tests", "ud2-triple", "bench-int", "bench-call", "bench-copy",
                      "paging-tests", "privilege-tests", "debugreg-tests", "task-tests", "v86-tests",
                      "irq-tests"] {
            #expect(names.contains(image), "no 'ok \(image)' line:\n\(r.stdout)")
        }
    }
}
