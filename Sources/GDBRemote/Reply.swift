// Outgoing replies as typed values, encoded to payload strings (framing is PacketEncoder's job).

/// errno values gdb understands in `Enn` replies (it only shows the number).
public enum GDBErrno: UInt8, Sendable {
    case eperm = 0x01
    case enoent = 0x02
    case esrch = 0x03
    case eio = 0x05
    case e2big = 0x07
    case ebadf = 0x09
    case efault = 0x0e
    case ebusy = 0x10
    case einval = 0x16
    case enospc = 0x1c
    case erofs = 0x1e
    case enosys = 0x26
}

/// Why a thread stopped, as the stop reply tells gdb.
public enum GDBStopReason: Equatable, Sendable {
    /// A plain signal (SIGTRAP after a step, SIGINT after an interrupt, another for a guest
    /// exception gdb should see as a signal).
    case signal(UInt8)
    /// A software breakpoint gdb inserted with Z0 (only then: docs/DESIGN.md, gdb rule "swbreak only where inserted"). The thread's rip
    /// is the breakpoint address (nothing executed; gdb does not rewind with `swbreak+`).
    case softwareBreakpoint
    /// A hardware breakpoint gdb inserted with Z1.
    case hardwareBreakpoint
    /// A watchpoint gdb inserted with Z2/Z3/Z4, at `address`, reported after the access completed.
    case watchpoint(GDBBreakpointType, address: UInt64)
    /// The process exited with a status (`W`).
    case exited(code: UInt8)
    /// The process was terminated by a signal (`X`).
    case terminated(signal: UInt8)

    public static let sigint: UInt8 = 2
    public static let sigtrap: UInt8 = 5
}

/// A stop event, as the target reports it.
public struct GDBStopEvent: Equatable, Sendable {
    public var thread: GDBThreadID
    public var reason: GDBStopReason
    /// A line for the gdb console (sent as `O` packets before the stop reply), e.g. a decoded
    /// VM exit.
    public var console: String?
    /// Extra `key:value;` pairs for the stop reply (gdb ignores unknown ones, e.g. `vmexit:0a`).
    public var extra: [GDBKeyValue]

    public init(thread: GDBThreadID, reason: GDBStopReason, console: String? = nil, extra: [GDBKeyValue] = []) {
        self.thread = thread
        self.reason = reason
        self.console = console
        self.extra = extra
    }
}

public struct GDBKeyValue: Equatable, Sendable {
    public var key: String
    public var value: String
    public init(_ key: String, _ value: String) {
        self.key = key
        self.value = value
    }
}

/// A `T` stop reply: `T05thread:p1.1;swbreak:;06:…;07:…;10:…;`.
public struct GDBStopReply: Equatable, Sendable {
    public var signal: UInt8
    public var thread: GDBThreadID
    public var reason: GDBStopReason
    /// Expedited registers: (regnum, hex text).
    public var registers: [(Int, String)]
    public var extra: [GDBKeyValue]
    public var multiprocess: Bool

    public init(signal: UInt8, thread: GDBThreadID, reason: GDBStopReason, registers: [(Int, String)] = [],
                extra: [GDBKeyValue] = [], multiprocess: Bool = true) {
        self.signal = signal
        self.thread = thread
        self.reason = reason
        self.registers = registers
        self.extra = extra
        self.multiprocess = multiprocess
    }

    public static func == (a: GDBStopReply, b: GDBStopReply) -> Bool { a.encoded == b.encoded }

    public var encoded: String {
        let (h, l) = Hex.pair(signal)
        var s = "T" + String(decoding: [h, l], as: UTF8.self)
        s += "thread:\(thread.encoded(multiprocess: multiprocess));"
        switch reason {
        case .softwareBreakpoint: s += "swbreak:;"
        case .hardwareBreakpoint: s += "hwbreak:;"
        case .watchpoint(let type, let address):
            let key: String
            switch type {
            case .readWatch: key = "rwatch"
            case .accessWatch: key = "awatch"
            default: key = "watch"
            }
            s += "\(key):\(Hex.string(address));"
        case .signal, .exited, .terminated: break
        }
        for (n, v) in registers {
            let (rh, rl) = Hex.pair(UInt8(truncatingIfNeeded: n))
            s += (n < 256 ? String(decoding: [rh, rl], as: UTF8.self) : Hex.string(UInt64(n))) + ":\(v);"
        }
        for kv in extra { s += "\(kv.key):\(kv.value);" }
        return s
    }
}

/// Every reply the stub sends.
public enum GDBReply: Equatable, Sendable {
    case ok
    case error(GDBErrno)
    /// `E.text` — an error with a message (gdb ≥ 9 prints it).
    case errorMessage(String)
    /// The empty reply: "not supported".
    case empty
    /// A text payload sent as is (hex data, thread lists, `QCp1.1`…).
    case text(String)
    /// A binary payload (escaped by the encoder).
    case binary([UInt8])
    case stop(GDBStopReply)
    /// `Wxx[;process:pid]`
    case exited(code: UInt8, pid: Int?)
    /// `Xxx[;process:pid]`
    case terminated(signal: UInt8, pid: Int?)
    /// `O<hex>` console output.
    case console(String)
    /// A qXfer chunk: `m<data>` (more follows) or `l<data>` (last).
    case xfer([UInt8], last: Bool)
    /// A `vFile` result: `Fresult[,errno][;attachment]` (result -1 with an errno on failure).
    case hostIO(result: Int, errno: Int?, attachment: [UInt8]?)

    public var payload: [UInt8] {
        switch self {
        case .ok: return Array("OK".utf8)
        case .error(let e):
            let (h, l) = Hex.pair(e.rawValue)
            return [UInt8(ascii: "E"), h, l]
        case .errorMessage(let m): return Array("E.\(m)".utf8)
        case .empty: return []
        case .text(let t): return Array(t.utf8)
        case .binary(let b): return b
        case .stop(let r): return Array(r.encoded.utf8)
        case .exited(let code, let pid):
            return Array(("W" + Hex.encode([code]) + (pid.map { ";process:\(String($0, radix: 16))" } ?? "")).utf8)
        case .terminated(let sig, let pid):
            return Array(("X" + Hex.encode([sig]) + (pid.map { ";process:\(String($0, radix: 16))" } ?? "")).utf8)
        case .console(let text): return Array(("O" + Hex.encode(Array(text.utf8))).utf8)
        case .xfer(let data, let last): return [last ? UInt8(ascii: "l") : UInt8(ascii: "m")] + data
        case .hostIO(let result, let errno, let attachment):
            var text = "F" + (result < 0 ? "-" + String(-result, radix: 16) : String(result, radix: 16))
            if let errno { text += "," + String(errno, radix: 16) }
            var bytes = Array(text.utf8)
            if let attachment { bytes += [UInt8(ascii: ";")] + attachment }
            return bytes
        }
    }

    /// The framed packet.
    public var framed: [UInt8] { PacketEncoder.frame(payload) }
}
