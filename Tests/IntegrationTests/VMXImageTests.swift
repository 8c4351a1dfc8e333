// The VMX guest images (GuestImages/minivmm, bad-guest, vmx-errors) under vmxemu, and vmx-errors
// and bad-guest compared line by line with Bochs 2.7, the independent VMX implementation
// (GuestImages/bochs/run-bochs.sh; its known deviations from the SDM are in
// GuestImages/bochs/DEVIATIONS.md). SDM references: Vol. 3C, 325462-077US numbering.

import Foundation
import Testing
import TestSupport

/// vmx-errors prints `NAME: RESULT` per observation (`FAIL: NAME: …` when the result contradicts
/// the SDM). The key a line is compared under: the observation name, or a fixed key for the
/// image's own header and summary lines.
func vmxErrorsKey(_ line: String) -> String {
    if line.hasPrefix("vmx-errors: physical-address width") { return "(header)" }
    if line.hasPrefix("vmx-errors: "), line.contains(" observations") { return "(summary)" }
    let body = line.hasPrefix("FAIL: ") ? String(line.dropFirst(6)) : line
    guard let colon = body.range(of: ": ") else { return body }
    return String(body[..<colon.lowerBound])
}

/// `vmx-errors: N observations…`: N.
func vmxErrorsObservationCount(_ lines: [String]) -> Int? {
    guard let summary = lines.last(where: { vmxErrorsKey($0) == "(summary)" }) else { return nil }
    let words = summary.split(separator: " ")
    guard let i = words.firstIndex(where: { $0.hasPrefix("observations") }), i > 0 else { return nil }
    return Int(words[i - 1])
}

/// The line run-bochs.sh's guest prints because Bochs has no debug-exit port (DEVIATIONS.md,
/// "Bochs has no debug-exit device"); not an observation.
func isBochsExitLine(_ line: String) -> Bool { line.hasPrefix("guest_exit: port 0xF4 did not stop the machine") }

@Suite(.requires(.imageTools))
struct VMXImageTests {
    @Test func minivmmPasses() throws {
        let r = try vmxemu(["run", try GuestImages.path("minivmm")])
        #expect(r.status == 0, "\(r)")
        #expect(r.stdoutLines.contains("minivmm: PASS"), "\(r)")
        #expect(!r.stdout.contains("FAIL"), "\(r)")
    }

    /// Five planted guest-state mistakes: VMLAUNCH fails with exit reason 33 | bit 31 (§26.8).
    @Test func badGuestFailsWithInvalidGuestState() throws {
        let r = try vmxemu(["run", try GuestImages.path("bad-guest")])
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.contains("VMLAUNCH failed as expected: exit reason 0x80000021"), "\(r)")
    }

    /// Every observation agrees with the SDM (no FAIL: line, exit status 0), the run reaches its
    /// summary, and the cases Bochs cannot survive are skipped without "all".
    @Test func vmxErrorsHasNoContradiction() throws {
        let r = try vmxemu(["run", try GuestImages.path("vmx-errors")])
        #expect(r.status == 0, "\(r)")
        let fails = r.stdoutLines.filter { $0.hasPrefix("FAIL") }
        #expect(fails.isEmpty, "\(fails.joined(separator: "\n"))\n\(r)")
        let n = try #require(vmxErrorsObservationCount(r.stdoutLines), "no summary line:\n\(r)")
        #expect(r.stdoutLines.last == "vmx-errors: \(n) observations", "\(r)")
        let observed = r.stdoutLines.filter {
            !$0.hasPrefix("vmx-errors: ") && !$0.contains(": skipped (")
        }.count
        #expect(observed == n, "\(observed) observation lines, the summary says \(n)")
        #expect(r.stdoutLines.contains { $0.hasPrefix("vmcall-in-root: skipped (") }, "\(r)")
    }

    /// With the command line "all": VMCALL in VMX root operation without the dual-monitor
    /// treatment is VMfail (§30.3 "VMCALL"): VMfailInvalid without a current VMCS,
    /// VMfailValid(1) with one (§30.4 Table 30-1, error 1).
    @Test func vmxErrorsAllRunsVMCALLInRoot() throws {
        let r = try vmxemu(["run", try GuestImages.path("vmx-errors"), "--append", "all"])
        #expect(r.status == 0, "\(r)")
        #expect(r.stdoutLines.contains("vmcall-in-root-no-current-vmcs: VMfailInvalid"), "\(r)")
        #expect(r.stdoutLines.contains("vmcall-in-root: VMfailValid(1)"), "\(r)")
        #expect(!r.stdout.contains("FAIL"), "\(r)")
        #expect(!r.stdout.contains("skipped (Bochs"), "\(r)")
    }
}

/// vmxemu against Bochs 2.7, line by line. Needs bochs with the corei7_skylake_x model
/// (run-bochs.sh exits 77 otherwise): then the tests fail under VMXEMU_REQUIRE_ORACLES=1 and are
/// skipped with the reason otherwise — never a silent pass. A Bochs run takes about a second.
@Suite(.requires(.imageTools, .bochs))
struct BochsComparisonTests {
    /// Lines of vmx-errors allowed to differ between vmxemu and Bochs, each with why. The value
    /// is the exact line vmxemu must print, or nil where it depends on our capability MSRs.
    static let allowed: [String: (vmxemu: String?, why: String)] = [
        "(header)": (nil,
            "prints the physical-address width and IA32_VMX_BASIC / IA32_VMX_MISC: a different CPU model"),
        "vmwrite-read-only-exit-reason": ("vmwrite-read-only-exit-reason: VMfailValid(13)",
            "capability: Bochs's skylake model sets IA32_VMX_MISC[29] (VMWRITE to any supported field, "
            + "SDM Appendix A.6), vmxemu does not, so VMWRITE to the exit-reason field is VMfailValid(13) "
            + "(§30.3 \"VMWRITE\"); the image derives the expected value from the MSR"),
        "entry-guest-rip-noncanonical": ("entry-guest-rip-noncanonical: exit 0x80000021 qual 0x0",
            "Bochs deviation (DEVIATIONS.md 2): Bochs does not check bits 63:N of a 64-bit guest's RIP; "
            + "SDM §26.3.1.4 \"Checks on Guest RIP, RFLAGS, and SSP\" makes it a VM-entry failure, exit 80000021H"),
        "(summary)": (nil,
            "Bochs adds ', 1 contradict the SDM' for its entry-guest-rip-noncanonical deviation "
            + "(the observation counts are compared separately)"),
    ]

    /// run-bochs.sh on an image: its stdout lines without the Bochs-only exit line; when Bochs
    /// is unusable, the oracle rule (TestSupport/Oracle.swift).
    static func bochs(_ image: String) throws -> (lines: [String], status: Int32) {
        let elf = try GuestImages.path(image)
        let script = Paths.guestImages.appendingPathComponent("bochs/run-bochs.sh")
        let r = try run(URL(fileURLWithPath: "/usr/bin/env"), ["BOCHS_TIMEOUT=120", "/bin/sh", script.path, elf],
                        timeout: 180)
        if r.status == 77 {
            let reason = (r.stderrLines.first { $0.hasPrefix("SKIP") } ?? r.stderr)
            try Oracle.bochs.unusable("run-bochs.sh \(image) exit 77: \(reason)")
        }
        #expect(r.status == 0 || r.status == 1, "run-bochs.sh \(image): the guest reported no status:\n\(r)")
        return (r.stdoutLines.filter { !isBochsExitLine($0) }, r.status)
    }

    @Test func vmxErrorsMatchesBochs() throws {
        let bochs = try Self.bochs("vmx-errors")
        let ours = try vmxemu(["run", try GuestImages.path("vmx-errors")])
        #expect(ours.status == 0, "\(ours)")

        // The checked-in Bochs output is what Bochs prints today.
        let expectedURL = Paths.guestImages.appendingPathComponent("vmx-errors/expected-bochs.txt")
        let expected = RunResult.lines(try String(contentsOf: expectedURL, encoding: .utf8))
        #expect(expected == bochs.lines, "vmx-errors/expected-bochs.txt is stale: rerun bochs/run-bochs.sh")

        let b = bochs.lines, v = ours.stdoutLines
        #expect(b.map(vmxErrorsKey) == v.map(vmxErrorsKey),
                "the observations differ in name or order:\nBochs:\n\(b.joined(separator: "\n"))\nvmxemu:\n\(v.joined(separator: "\n"))")
        #expect(vmxErrorsObservationCount(b) != nil && vmxErrorsObservationCount(b) == vmxErrorsObservationCount(v),
                "observation counts: Bochs \(String(describing: vmxErrorsObservationCount(b))), vmxemu \(String(describing: vmxErrorsObservationCount(v)))")

        var differing: Set<String> = []
        for (bl, vl) in zip(b, v) where bl != vl {
            let key = vmxErrorsKey(vl)
            differing.insert(key)
            guard let allow = Self.allowed[key] else {
                Issue.record("unexplained difference in \(key):\n  Bochs:  \(bl)\n  vmxemu: \(vl)")
                continue
            }
            if let want = allow.vmxemu {
                #expect(vl == want, "\(key): vmxemu printed \(vl), the allow-list explains \(want) (\(allow.why))")
            }
            #expect(!vl.hasPrefix("FAIL"), "\(vl)")
        }
        // An allow-list entry nothing needs any more is stale.
        for key in Self.allowed.keys where !differing.contains(key) {
            Issue.record("allow-list entry \(key) no longer differs from Bochs: remove it")
        }
    }

    /// minivmm lines allowed to differ between vmxemu and Bochs (by their start, which both
    /// lines must share): each a property of the CPU model or of how the image is entered.
    static let minivmmAllowed: [String: String] = [
        "minivmm: VMX present; IA32_VMX_BASIC = ":
            "the VMCS revision identifier is the CPU model's (SDM Vol. 3D Appendix A.1 \"Basic VMX Information\", bits 30:0): vmxemu's 4, Bochs's corei7_skylake_x 2BH",
        "minivmm: CR0 = ":
            "how the image is entered: vmxemu enters a multiboot kernel as QEMU does (CD = NW = 0); the Bochs ROM loader (bochs/loader.S) "
            + "starts from reset, where CR0 = 60000010H (SDM Vol. 3A §9.1.1 \"Processor State After Reset\", Table 9-1), and leaves CD and NW set",
        "minivmm: CPUID leaf 0x1 subleaf 0x0 -> ":
            "CPUID.1 ECX/EDX are the CPU model's feature flags (SDM Vol. 2A \"CPUID\", Table 3-10, 3-11): vmxemu reports what it implements (no AVX, no x2APIC), Bochs its skylake model's",
    ]

    /// minivmm — VMXON, a VMCS built field by field, VMLAUNCH, a guest whose CPUID, HLT, VMCALL,
    /// I/O, RDMSR/WRMSR and CR exits the VMM handles, VMRESUME, VMCLEAR and VMXOFF — prints the
    /// same lines under Bochs and under vmxemu (but for `minivmmAllowed`), ending in PASS.
    @Test func minivmmMatchesBochs() throws {
        let bochs = try Self.bochs("minivmm")
        #expect(bochs.status == 0, "minivmm under Bochs:\n\(bochs.lines.joined(separator: "\n"))")
        #expect(bochs.lines.contains("minivmm: PASS"), "\(bochs.lines.joined(separator: "\n"))")
        let ours = try vmxemu(["run", try GuestImages.path("minivmm")])
        #expect(ours.status == 0, "\(ours)")
        #expect(ours.stdoutLines.contains("minivmm: PASS"), "\(ours)")
        let b = bochs.lines, v = ours.stdoutLines
        #expect(b.count == v.count, "Bochs printed \(b.count) lines, vmxemu \(v.count):\nBochs:\n\(b.joined(separator: "\n"))\nvmxemu:\n\(v.joined(separator: "\n"))")
        var used: Set<String> = []
        for (bl, vl) in zip(b, v) where bl != vl {
            guard let key = Self.minivmmAllowed.keys.first(where: { vl.hasPrefix($0) && bl.hasPrefix($0) }) else {
                Issue.record("unexplained difference:\n  Bochs:  \(bl)\n  vmxemu: \(vl)")
                continue
            }
            used.insert(key)
        }
        for key in Self.minivmmAllowed.keys where !used.contains(key) {
            Issue.record("allow-list entry \"\(key)\" no longer differs from Bochs: remove it")
        }
    }

    /// bad-guest prints the same lines under both (VMLAUNCH fails with exit reason 80000021H,
    /// the same qualification).
    @Test func badGuestMatchesBochs() throws {
        let bochs = try Self.bochs("bad-guest")
        #expect(bochs.status == 0)
        let ours = try vmxemu(["run", try GuestImages.path("bad-guest")])
        #expect(ours.status == 0, "\(ours)")
        #expect(ours.stdoutLines == bochs.lines,
                "Bochs:\n\(bochs.lines.joined(separator: "\n"))\nvmxemu:\n\(ours.stdout)")
        #expect(ours.stdout.contains("exit reason 0x80000021"), "\(ours)")
    }
}
