// ≥ 10⁵ random and mutated command lines into the command table, on minivmm stopped at a VM
// exit: no crash, every failure says something, and the machine still answers afterwards.
// Run control (c, si, next-*, expect) is left to the monitor door, which refuses it, so the
// run is bounded; `source` and `quit` go through too.
import Debugger
import Foundation
import Machine
import REPL
import Testing
import TestSupport
import X86

@Suite struct REPLFuzz {
    static let seeds = [
        "status", "regs", "help", "help vmcs", "apropos exit", "vmcs", "vmcs guest", "vmcs host", "vmcs exec", "vmcs get GUEST_RIP",
        "vmcs get 0x681e", "vmcs set GUEST_RSP 0x1000", "vmcs fields", "vmcs fields cr", "vmcs list", "vmcs check", "why",
        "exit", "exit 3", "exits", "exits 4", "exits stats", "ctl", "ctl proc", "caps", "caps IA32_VMX_BASIC",
        "decode exit-reason 0x80000021", "decode qual CR_ACCESS 0x4", "decode intinfo 0x80000b0e", "decode ar 0xa09b",
        "decode vmerr 7", "decode field 0x681e", "decode ctl proc 0x84006172", "decode insinfo VMREAD 0x12345678",
        "break exit CPUID", "break entry", "break vmfail", "break entry-fail", "info breakpoints", "delete 1", "delete",
        "x/8gx rip", "x/4bx 0x100000", "x/2wd hpa:0x1000", "assert 1 == 1", "assert rax != 0", "assert exit-reason == CPUID",
        "set json on", "set json off", "msrbitmap 0xc0000080", "iobitmap 0x3f8", "translate rip", "phys on", "phys off",
        "c", "si 3", "next-exit", "next-entry", "expect exit CPUID", "quit 3", "source /nonexistent", "--json status",
    ]
    static let pieces = ["vmcs", "get", "set", "GUEST_", "0x", "-1", "18446744073709551616", "0xffffffffffffffff", "\"", "'", "\t", "/",
                         "x/", "--json", "==", "&", "é", "\u{0}", "\u{7f}", "💥", "exit", "CPUID", "break", "999999999", "#", " ", "..", "%s%n"]

    struct RNG: RandomNumberGenerator {
        var s: UInt64
        mutating func next() -> UInt64 { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return s }
    }

    static func mutate(_ line: String, _ rng: inout RNG) -> String {
        var chars = Array(line)
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            switch Int.random(in: 0..<7, using: &rng) {
            case 0 where !chars.isEmpty: chars.remove(at: Int.random(in: 0..<chars.count, using: &rng))
            case 1: chars.insert(Character(Unicode.Scalar(UInt8.random(in: 0x20...0x7E, using: &rng))), at: Int.random(in: 0...chars.count, using: &rng))
            case 2: chars.insert(contentsOf: pieces.randomElement(using: &rng)!, at: Int.random(in: 0...chars.count, using: &rng))
            case 3 where chars.count > 2: chars = Array(chars.prefix(Int.random(in: 0..<chars.count, using: &rng)))
            case 4: chars += " " + String(UInt64.random(in: 0...UInt64.max, using: &rng) >> UInt64.random(in: 0...63, using: &rng), radix: Bool.random(using: &rng) ? 16 : 10)
            case 5: chars += " " + (DebuggerCommands.vmcsFieldNames + DebuggerCommands.exitReasonNames).randomElement(using: &rng)!
            default: chars = Array(seeds.randomElement(using: &rng)!) + [" "] + chars
            }
        }
        return String(chars)
    }

    @Test(.requires(.guestImage("minivmm"))) func hundredThousandLines() throws {
        let (c, _) = try Fixture.controller("minivmm")
        #expect(Fixture.run("break exit CPUID", c).succeeded)
        #expect(Fixture.run("c", c).succeeded)
        #expect(Fixture.run("delete", c).succeeded)
        let ripBefore = Fixture.run("vmcs get GUEST_RIP", c).output
        let ctx = CommandContext(controller: c, frontDoor: .monitor)
        var rng = RNG(s: 0x9E37_79B9_7F4A_7C15)
        var failures = 0
        let n = 100_000
        for i in 0..<n {
            let line: String
            switch i % 10 {
            case 0: line = Self.seeds.randomElement(using: &rng)!
            case 1: line = String((0..<Int.random(in: 0...40, using: &rng)).map { _ in Character(Unicode.Scalar(UInt8.random(in: 1...0x7F, using: &rng))) })
            default: line = Self.mutate(Self.seeds.randomElement(using: &rng)!, &rng)
            }
            let r = DebuggerCommands.execute(line, context: ctx)
            if !r.succeeded {
                failures += 1
                // A clear error: some text, not just a status.
                if r.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { Issue.record("silent failure for \(line.debugDescription)") }
            }
            #expect(!c.isRunning, "\(line.debugDescription) left the machine running")
        }
        ctx.session.json = false
        // Still serving: the same questions get answers (GUEST_RSP may have been set; GUEST_RIP only by a mutated set).
        #expect(Fixture.run("status", c).succeeded)
        #expect(Fixture.run("decode vmerr 7", c).output.contains("invalid control field"))
        #expect(Fixture.run("vmcs get GUEST_RIP", c).succeeded)
        print("REPL fuzz: \(n) lines, \(failures) refused with a message; GUEST_RIP before: \(ripBefore.prefix(40))")
    }
}
