// Shared helpers: a small hand-built machine (32-bit protected mode with paging), a stop
// collector for GDBStopSink reports, and a MachineTarget over them.
import Debugger
import Foundation
import GDBRemote
import Machine
import X86

/// A machine in 32-bit protected mode with 32-bit paging: linear 0x0000–0x7FFF identity-mapped
/// (8 pages), 0x8000 and above not present. Code is placed at 0x1000; the stack top is 0x7000.
/// A GDT at 0x500 holds a flat code (0x08) and a flat data (0x10) descriptor, and a data
/// descriptor with base 0x2000 (0x18).
func makeMachine(code: [UInt8], memory: UInt64 = 4 << 20) -> Machine {
    let m = Machine(memoryBytes: memory, console: MemorySink())
    let cpu = m.cpu
    let mem = m.memory
    // Page directory at 0x10000 → page table at 0x11000.
    mem.write32(0x11000 | 3, at: 0x10000)
    for i in 0..<8 { mem.write32(UInt32(i << 12) | 3, at: 0x11000 + UInt64(i * 4)) }
    // GDT: null, flat code 32-bit, flat data, data with base 0x2000 limit 0xFFF.
    mem.write64(0, at: 0x500)
    mem.write64(0x00CF_9A00_0000_FFFF, at: 0x508)
    mem.write64(0x00CF_9200_0000_FFFF, at: 0x510)
    mem.write64(0x0040_9200_2000_0FFF, at: 0x518)
    cpu.gdtrBase = 0x500
    cpu.gdtrLimit = 0x1F
    cpu.idtrBase = 0
    cpu.idtrLimit = 0
    mem.write(code, at: 0x1000)
    cpu.cr3 = 0x10000
    cpu.cr0 = CR0.pe | CR0.et | CR0.pg
    cpu.segs[Seg.cs] = SegmentRegister(selector: 0x08, base: 0, limit: 0xFFFF_FFFF, attr: 0xC09B)
    for s in [Seg.ds, Seg.es, Seg.ss, Seg.fs, Seg.gs] {
        cpu.segs[s] = SegmentRegister(selector: 0x10, base: 0, limit: 0xFFFF_FFFF, attr: 0xC093)
    }
    cpu.rip = 0x1000
    cpu.regs[Reg.rsp] = 0x7000
    cpu.rflags = 0x2
    cpu.modeChanged()
    cpu.flushDecodedBlocks()
    return m
}

/// Instruction bytes (32-bit code).
enum I {
    static let nop: [UInt8] = [0x90]
    static let incEAX: [UInt8] = [0x40]
    static func movEAX(_ v: UInt32) -> [UInt8] { [0xB8] + le32(v) }
    static func movToMem(_ a: UInt32) -> [UInt8] { [0xA3] + le32(a) }          // mov [a], eax
    static func movFromMem(_ a: UInt32) -> [UInt8] { [0xA1] + le32(a) }        // mov eax, [a]
    static let addEAXEBX: [UInt8] = [0x01, 0xD8]
    static let spin: [UInt8] = [0xEB, 0xFE]                                    // jmp $
    static let outF4: [UInt8] = [0xE7, 0xF4]                                   // out 0xF4, eax
    static let ud2: [UInt8] = [0x0F, 0x0B]
    static let cli: [UInt8] = [0xFA]
    static let hlt: [UInt8] = [0xF4]
    static func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
}

/// Collects stop events from a GDBStopSink; `next` waits for one.
final class Stops: @unchecked Sendable {
    private let lock = ConditionLock()
    private var events: [GDBStopEvent] = []

    func sink() -> GDBStopSink {
        GDBStopSink(generation: 1) { [self] _, e in
            lock.withLock {
                events.append(e)
                lock.broadcast()
            }
        }
    }

    func next(timeout: Double = 10) -> GDBStopEvent? {
        lock.withLock {
            let deadline = monotonicNow() + timeout
            while events.isEmpty {
                if !lock.wait(until: deadline) && monotonicNow() >= deadline { return nil }
            }
            return events.removeFirst()
        }
    }
}

/// Records the adapter's hooks.
final class HookLog: @unchecked Sendable {
    private let lock = ConditionLock()
    private(set) var exits: [Int32] = []
    private(set) var kills = 0
    private(set) var lines: [String] = []

    var hooks: MachineTargetHooks {
        MachineTargetHooks(guestExited: { s in self.lock.withLock { self.exits.append(s) } },
                           killed: { self.lock.withLock { self.kills += 1 } },
                           log: { l in self.lock.withLock { self.lines.append(l) } })
    }

    var snapshot: (exits: [Int32], kills: Int, lines: [String]) { lock.withLock { (exits, kills, lines) } }
}

let vmm = GDBThreadID(pid: 1, tid: 1)

func request(_ kind: GDBResumeKind) -> GDBResumeRequest {
    GDBResumeRequest(actions: [GDBResumeAction(kind, thread: vmm.selector)], attachedProcesses: [1],
                     onlyThread: kind.isStep ? vmm : nil)
}

extension MachineTarget {
    /// Resumes and waits for the stop.
    func run(_ kind: GDBResumeKind, timeout: Double = 10) -> GDBStopEvent? {
        let stops = Stops()
        resume(request(kind), stops: stops.sink())
        return stops.next(timeout: timeout)
    }

    func reg(_ name: String) -> UInt64? { (try? readRegisters(vmm))?.value(name) }
}
