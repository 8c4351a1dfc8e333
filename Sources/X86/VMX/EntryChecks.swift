/// VM-entry checks as rows, not an if-chain (docs/DESIGN.md, "The tables").
///
/// Each row: a stable id, the SDM section number and title (the pinned edition, `SDM.edition`),
/// a one-line statement, its failure class, the VMCS fields it reads, and a predicate over a
/// `VMEntryContext` that returns nil when the check passes or the actual vs required values when
/// it fails. `VMEntryChecks.rows` lists them in SDM order: §26.2.1 controls (VMfailValid 7),
/// §26.2.2–26.2.4 host state (VMfailValid 8), §26.3.1 guest state (VM exit 33). Execution stops
/// at the first failing row, as hardware reports it; `evaluateAll` runs every row for the REPL.
/// The MSR-load checks of §26.4 (VM exit 34) run while loading and are not rows here.

/// How a failed check is reported (SDM §26.1 "Basic VM-Entry Checks", §26.2, §26.8 "VM-Entry
/// Failures During or After Loading Guest State").
public enum EntryFailureClass: Sendable, Hashable, CustomStringConvertible {
    /// VMfailValid with VM-instruction error 7 ("VM entry with invalid control field(s)").
    case invalidControls
    /// VMfailValid with VM-instruction error 8 ("VM entry with invalid host-state field(s)").
    case invalidHostState
    /// VM exit with basic reason 33 and bit 31 set ("VM-entry failure due to invalid guest
    /// state"); the exit qualification is 0 for most checks, 2 for PDPTE loading,
    /// 3 for NMI injection with blocking by NMI (not applicable here), 4 for the VMCS link pointer.
    case invalidGuestState(qualification: UInt64)

    public var description: String {
        switch self {
        case .invalidControls: return "VMfailValid(7)"
        case .invalidHostState: return "VMfailValid(8)"
        case let .invalidGuestState(q): return "VM exit 33 (invalid guest state), qualification \(q)"
        }
    }
}

/// What a failing check found: a statement of the actual and required values, and the
/// capability MSR (or other source) that decided what is allowed, when there is one.
public struct EntryCheckFinding: Sendable, Hashable {
    public var actual: String
    public var required: String
    public var decidedBy: String?
    public init(actual: String, required: String, decidedBy: String? = nil) {
        self.actual = actual; self.required = required; self.decidedBy = decidedBy
    }
}

/// Everything a check may read: the VMCS fields of the VMCS being entered, the capability
/// model, guest-physical memory (for PDPTEs), and the instruction (VMLAUNCH/VMRESUME).
public struct VMEntryContext {
    /// The value of a field of the VMCS being entered (0 for a field the CPU does not have).
    public let field: (VMCSFieldID) -> UInt64
    /// Read `n` bytes (1…8) of physical memory (PDPTEs).
    public let readPhys: (UInt64, UInt64) -> UInt64
    /// The processor's physical-address width (CPUID.80000008H:EAX[7:0]).
    public let physAddrWidth: Int
    /// The current VMCS pointer and VMXON pointer (for the VMCS link pointer checks).
    public let vmcsPointer: UInt64
    public let vmxonPointer: UInt64
    public let isLaunch: Bool
    /// The logical processor is in IA-32e mode (IA32_EFER.LMA = 1) when it executes
    /// VMLAUNCH/VMRESUME (the first checks of §26.2.4). A VMM that launches from 64-bit code: true.
    public let processorInIA32eMode: Bool

    public init(field: @escaping (VMCSFieldID) -> UInt64, readPhys: @escaping (UInt64, UInt64) -> UInt64,
                physAddrWidth: Int, vmcsPointer: UInt64, vmxonPointer: UInt64, isLaunch: Bool,
                processorInIA32eMode: Bool = true) {
        self.field = field; self.readPhys = readPhys; self.physAddrWidth = physAddrWidth
        self.vmcsPointer = vmcsPointer; self.vmxonPointer = vmxonPointer; self.isLaunch = isLaunch
        self.processorInIA32eMode = processorInIA32eMode
    }

    // Convenience accessors used by the rows.
    public var pin: UInt32 { UInt32(truncatingIfNeeded: field(.pinBasedControls)) }
    public var proc: UInt32 { UInt32(truncatingIfNeeded: field(.procBasedControls)) }
    /// The secondary controls in effect: 0 when "activate secondary controls" is 0 (§24.6.2).
    public var proc2: UInt32 {
        proc & Proc.activateSecondaryControls != 0 ? UInt32(truncatingIfNeeded: field(.secondaryProcControls)) : 0
    }
    public var exitCtl: UInt32 { UInt32(truncatingIfNeeded: field(.exitControls)) }
    public var entryCtl: UInt32 { UInt32(truncatingIfNeeded: field(.entryControls)) }
    public var ia32eGuest: Bool { entryCtl & EntryCtl.ia32eModeGuest != 0 }
    public var hostAddressSpaceSize: Bool { exitCtl & ExitCtl.hostAddressSpaceSize != 0 }
    /// True when `v` has no bit set at or above the physical-address width.
    public func withinPhysWidth(_ v: UInt64) -> Bool { physAddrWidth >= 64 || v >> UInt64(physAddrWidth) == 0 }
}

/// One VM-entry check.
public struct EntryCheck: Sendable {
    /// Stable identifier, e.g. "ctl.pin.allowed" or "guest.cs.ar.l-db" (tests and scripts use it).
    public let id: String
    public let ref: SDM.Ref
    /// One line, in the SDM's terms.
    public let statement: String
    public let failure: EntryFailureClass
    /// The fields this check reads (for `vmcs check` and "never written since VMCLEAR" warnings).
    public let fields: [VMCSFieldID]
    /// nil = passes; otherwise what was found.
    public let check: @Sendable (VMEntryContext) -> EntryCheckFinding?

    public init(_ id: String, _ ref: SDM.Ref, _ statement: String, _ failure: EntryFailureClass,
                fields: [VMCSFieldID], check: @escaping @Sendable (VMEntryContext) -> EntryCheckFinding?) {
        self.id = id; self.ref = ref; self.statement = statement; self.failure = failure
        self.fields = fields; self.check = check
    }
}

/// A check that failed, with what it found.
public struct EntryCheckFailure: Sendable {
    public let check: EntryCheck
    public let finding: EntryCheckFinding
}

public enum VMEntryChecks {
    /// The first failing row in SDM order, as VMLAUNCH/VMRESUME report it.
    public static func firstFailure(_ ctx: VMEntryContext) -> EntryCheckFailure? {
        for row in rows { if let f = row.check(ctx) { return EntryCheckFailure(check: row, finding: f) } }
        return nil
    }

    /// Every failing row (the REPL's `vmcs check` and `why`).
    public static func evaluateAll(_ ctx: VMEntryContext) -> [EntryCheckFailure] {
        rows.compactMap { row in row.check(ctx).map { EntryCheckFailure(check: row, finding: $0) } }
    }

    /// All rows in SDM order: controls, then host state, then guest state.
    public static let rows: [EntryCheck] = controlRows + hostRows + guestRows
}
