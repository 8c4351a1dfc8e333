// Thread ids as gdb writes them.
//
//   multiprocess form   pP.T     P, T hex;  "-1" = all, "0" = any   (p1.1, p0.0, p2.-1, p-1)
//   plain form          T        T hex, or -1 / 0
//
// gdb uses a process id of 0 ("any process") before it knows any, e.g. `Hgp0.0` at connect.

/// One id component: a concrete number, `0` (any) or `-1` (all).
public enum GDBIDSelector: Hashable, Sendable, CustomStringConvertible {
    case all
    case any
    case id(Int)

    public func matches(_ value: Int) -> Bool {
        switch self {
        case .all, .any: return true
        case .id(let v): return v == value
        }
    }

    public var description: String {
        switch self {
        case .all: return "-1"
        case .any: return "0"
        case .id(let v): return String(v, radix: 16)
        }
    }

    static func parse(_ text: Substring) -> GDBIDSelector? {
        if text == "-1" { return .all }
        // Bound the width so the value fits in an Int, and reject negative numbers.
        guard text.count <= 15, let v = Hex.number(text) else { return nil }
        return v == 0 ? .any : .id(Int(v))
    }
}

/// A thread id as it appears in a packet (`Hg`, `T`, `vCont;s:…`, `qThreadExtraInfo`).
public struct GDBThreadSelector: Hashable, Sendable, CustomStringConvertible {
    /// nil in the plain (non-multiprocess) form.
    public var pid: GDBIDSelector?
    public var tid: GDBIDSelector

    public init(pid: GDBIDSelector?, tid: GDBIDSelector) {
        self.pid = pid
        self.tid = tid
    }

    public static let all = GDBThreadSelector(pid: .all, tid: .all)
    public static let any = GDBThreadSelector(pid: .any, tid: .any)

    public func matches(_ thread: GDBThreadID) -> Bool {
        (pid?.matches(thread.pid) ?? true) && tid.matches(thread.tid)
    }

    /// The concrete thread named, if both parts are concrete ids.
    public var concrete: GDBThreadID? {
        guard case .id(let p)? = pid, case .id(let t) = tid else { return nil }
        return GDBThreadID(pid: p, tid: t)
    }

    /// `p1.-1` means every thread of process 1: `pN.0`/`pN.-1` and a bare `pN` name one process.
    public var process: Int? {
        if case .id(let p)? = pid { return p }
        return nil
    }

    public var description: String {
        if let pid { return "p\(pid).\(tid)" }
        return tid.description
    }

    /// Parses `pP.T`, `pP` (all threads of P), `T`, `-1`, `0`; nil when malformed.
    public static func parse(_ text: Substring) -> GDBThreadSelector? {
        guard let first = text.first else { return nil }
        if first == "p" {
            let rest = text.dropFirst()
            if let dot = rest.firstIndex(of: ".") {
                guard let p = GDBIDSelector.parse(rest[..<dot]),
                    let t = GDBIDSelector.parse(rest[rest.index(after: dot)...])
                else { return nil }
                return GDBThreadSelector(pid: p, tid: t)
            }
            guard let p = GDBIDSelector.parse(rest) else { return nil }
            return GDBThreadSelector(pid: p, tid: .all)
        }
        guard let t = GDBIDSelector.parse(text) else { return nil }
        return GDBThreadSelector(pid: nil, tid: t)
    }

    public static func parse(_ text: String) -> GDBThreadSelector? { parse(Substring(text)) }
}

/// A concrete thread: a vCPU (tid) of a context (pid). Both are ≥ 1.
public struct GDBThreadID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var pid: Int
    public var tid: Int

    public init(pid: Int, tid: Int) {
        self.pid = pid
        self.tid = tid
    }

    public static func < (a: GDBThreadID, b: GDBThreadID) -> Bool { (a.pid, a.tid) < (b.pid, b.tid) }

    /// The multiprocess form `pP.T`.
    public var description: String { "p\(String(pid, radix: 16)).\(String(tid, radix: 16))" }

    /// `pP.T` when multiprocess was negotiated, else the plain `T`.
    public func encoded(multiprocess: Bool) -> String {
        multiprocess ? description : String(tid, radix: 16)
    }

    public var selector: GDBThreadSelector { GDBThreadSelector(pid: .id(pid), tid: .id(tid)) }
}
