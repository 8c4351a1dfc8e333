// Hostile machine state against every inspection command: every VMCS field, then the VMM's own
// registers (CR3, RIP, RSP, segment and descriptor-table bases) and the PML4 entry that maps
// RIP, set to values a guest can plant itself (VMWRITE, MOV CR3, page tables) — 0, 1,
// all-ones, 2⁶³, 0xFFF and both sides of MAXPHYADDR — while each inspection command runs
// through both front doors (the REPL's and gdb's `monitor`). A Swift overflow trap, a
// force-unwrap or an index out of range on one of these values kills the test process: the
// run finishing at all is the first assertion. In-process, through the command table, so it
// takes seconds.
import Debugger
import Foundation
import Machine
import Testing
import TestSupport
import X86

@Suite struct InspectionFuzz {
    /// 0, 1, all-ones, 2⁶³, 0xFFF, and the MAXPHYADDR edge (the last byte below 2^MAXPHYADDR:
    /// any offset added crosses it).
    static let values: [UInt64] = [0, 1, ~0, 1 << 63, 0xFFF, (1 << maxPhysAddrBits) - 1]

    /// Commands that only look (run control stays out: the machine must stay where it is).
    static let inspections = [
        "status", "regs", "vmcs", "vmcs check", "vmcs list", "vmcs get GUEST_RIP", "why", "exit", "exits", "exits stats",
        "ctl", "ctl proc 7", "caps", "msrbitmap 0x174", "msrbitmap 0xc0000080", "msrbitmap 0x1fff", "msrbitmap 0xc0001fff",
        "iobitmap 0", "iobitmap 0x3f8", "iobitmap 0x7fff", "iobitmap 0x8000", "iobitmap 0xffff",
        "translate rip", "xlate rip", "disas", "x/4gx rip", "x/2bx hpa:0xfff", "info breakpoints",
        "disas GUEST_RIP 2", "x/2gx GUEST_RSP", "translate GUEST_RIP", "x/2gx HOST_RSP", "disas HOST_RIP 2",
        "ctx guest", "regs", "disas", "xlate rip", "x/2gx rip", "ctx root", "regs", "disas 3", "xlate rip", "x/2gx rip", "ctx cpu",
    ]

    /// Runs every inspection through both doors; counts the results.
    static func inspectAll(_ c: MachineController, _ doors: [CommandContext], _ what: String) -> Int {
        var n = 0
        for ctx in doors {
            for line in inspections {
                let r = DebuggerCommands.execute(line, context: ctx)
                if !r.succeeded && r.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                    Issue.record("\(what): '\(line)' failed without a message")
                }
                n += 1
            }
            #expect(!c.isRunning, "\(what) left the machine running")
        }
        return n
    }

    static func sweep(_ c: MachineController, label: String) -> Int {
        let doors = [CommandContext(controller: c, frontDoor: .repl), CommandContext(controller: c, frontDoor: .monitor)]
        var runs = 0
        let vmcs = c.withStopped { $0.cpu.vmx.currentVMCS } ?? VMXState.invalidPointer
        #expect(vmcs != VMXState.invalidPointer)
        // Every VMCS field × every value.
        for f in VMCSFields.all where VMCSFields.exists(f) {
            let old = c.withStopped { $0.cpu.vmcsRead(f.id, at: vmcs) } ?? 0
            for v in values {
                _ = c.withStopped { $0.cpu.vmcsWrite(f.id, v, at: vmcs) }
                runs += inspectAll(c, doors, "\(label): \(f.name) = 0x\(String(v, radix: 16))")
            }
            _ = c.withStopped { $0.cpu.vmcsWrite(f.id, old, at: vmcs) }
        }
        // The CPU's own registers and the PML4 entry of RIP (restored after each value).
        typealias Poke = (name: String, set: (CPU, UInt64) -> Void)
        let pokes: [Poke] = [
            ("cr3", { $0.cr3 = $1 }), ("rip", { $0.rip = $1 }), ("rsp", { $0.regs[Reg.rsp] = $1 }),
            ("cs.base", { $0.segs[Seg.cs].base = $1 }), ("ds.base", { $0.segs[Seg.ds].base = $1 }),
            ("gdtr.base", { $0.gdtrBase = $1 }), ("idtr.base", { $0.idtrBase = $1 }),
            ("tr.base", { $0.segs[Seg.tr].base = $1 }), ("fs.base", { $0.segs[Seg.fs].base = $1 }),
            ("pml4e(rip)", { cpu, v in
                let a = (cpu.cr3 & 0x000F_FFFF_FFFF_F000) &+ ((cpu.rip >> 39) & 0x1FF) * 8
                _ = cpu.memory.write64(v, at: a)
            }),
        ]
        for p in pokes {
            for v in values {
                // What the pokes change: CR3, RIP, RSP, the segment registers, GDTR/IDTR bases, the PML4E.
                typealias Saved = (cr3: UInt64, rip: UInt64, rsp: UInt64, segs: [SegmentRegister], gdtr: UInt64, idtr: UInt64,
                                   pml4eAt: UInt64, pml4e: UInt64)
                let saved: Saved? = c.withStopped { m in
                    let cpu = m.cpu
                    let a = (cpu.cr3 & 0x000F_FFFF_FFFF_F000) &+ ((cpu.rip >> 39) & 0x1FF) * 8
                    let s: Saved = (cpu.cr3, cpu.rip, cpu.regs[Reg.rsp], (0..<8).map { cpu.segs[$0] }, cpu.gdtrBase, cpu.idtrBase,
                                    a, cpu.memory.read64(at: a))
                    p.set(cpu, v)
                    cpu.modeChanged()
                    cpu.flushDecodedBlocks()
                    return s
                }
                runs += inspectAll(c, doors, "\(label): \(p.name) = 0x\(String(v, radix: 16))")
                _ = c.withStopped { m in
                    guard let s = saved else { return }
                    let cpu = m.cpu
                    cpu.cr3 = s.cr3; cpu.rip = s.rip; cpu.regs[Reg.rsp] = s.rsp
                    for i in 0..<8 { cpu.segs[i] = s.segs[i] }
                    cpu.gdtrBase = s.gdtr; cpu.idtrBase = s.idtr
                    _ = m.memory.write64(s.pml4e, at: s.pml4eAt)
                    cpu.modeChanged()
                    cpu.flushDecodedBlocks()
                }
            }
        }
        return runs
    }

    @Test(.requires(.guestImage("minivmm"))) func everyFieldEveryValueEveryInspection() throws {
        let (c, _) = try Fixture.controller("minivmm")
        // The VMM in root operation after a VM exit (the guest off the CPU) …
        #expect(Fixture.run("break exit CPUID", c).succeeded)
        #expect(Fixture.run("c", c).succeeded)
        #expect(Fixture.run("delete", c).succeeded)
        let start = Date()
        var runs = Self.sweep(c, label: "root")
        // … and the guest on the CPU (the VMM's state read from the host-state area).
        #expect(Fixture.run("next-entry", c).succeeded)
        #expect(Fixture.run("si", c).succeeded)
        #expect(c.withStopped { $0.cpu.vmx.nonRoot } == true)
        runs += Self.sweep(c, label: "non-root")
        // Still the same machine, still answering.
        #expect(Fixture.run("status", c).succeeded)
        #expect(Fixture.run("vmcs get GUEST_RIP", c).succeeded)
        print("inspection fuzz: \(runs) command runs in \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
    }
}
