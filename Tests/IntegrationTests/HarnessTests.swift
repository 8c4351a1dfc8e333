// The harness's own promises: a hung subprocess is killed at its deadline, a crash is seen as a
// signal, and stdout and stderr arrive separately.

import Foundation
import Testing

@Suite struct HarnessTests {
    @Test func hungProcessIsKilledAtItsDeadline() throws {
        let r = try runUnchecked(URL(fileURLWithPath: "/bin/sh"), ["-c", "sleep 30"], timeout: 0.5)
        #expect(r.timedOut, "\(r)")
        #expect(r.seconds < 10, "\(r)")
    }

    @Test func crashIsSeenAsASignal() throws {
        let r = try runUnchecked(URL(fileURLWithPath: "/bin/sh"), ["-c", "kill -SEGV $$"], timeout: 10)
        #expect(!r.timedOut)
        #expect(r.signaled && r.status == SIGSEGV, "\(r)")
    }

    @Test func stdoutAndStderrAreSeparate() throws {
        let r = try runUnchecked(
            URL(fileURLWithPath: "/bin/sh"), ["-c", "echo out; echo err >&2; echo out2; exit 7"], timeout: 10)
        #expect(r.status == 7 && !r.signaled && !r.timedOut, "\(r)")
        #expect(r.stdoutLines == ["out", "out2"], "\(r)")
        #expect(r.stderrLines == ["err"], "\(r)")
    }
}
