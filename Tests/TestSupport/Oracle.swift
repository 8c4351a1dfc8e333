// The one rule for tests that need something outside the package — an oracle (KVM, Zydis, gdb,
// QEMU, Bochs) or a fixture (the guest images, the vmxemu binary, the tools that build images):
//
//   - present: the test runs;
//   - missing and VMXEMU_REQUIRE_ORACLES=1 (what CI sets): the test FAILS, naming what is
//     missing and the package or command that provides it;
//   - missing otherwise (a developer's machine): the test is SKIPPED with that same reason —
//     never a pass, never a silent return.
//
// VMXEMU_ORACLE_HIDE=kvm,zydis,gdb,qemu,bochs,images,vmxemu makes the listed ones count as
// missing, so the rule itself can be tested (scripts/check-oracle-rule.sh): with
// VMXEMU_REQUIRE_ORACLES=1 and an oracle hidden, every suite that needs it must fail.
//
// Use: the trait `.requires(.gdb, .guestImage("hello"))` on a @Suite or @Test (decided before
// the test runs), or `try Oracle.require(.qemu)` inside a test body; when a script or an API
// reports the oracle unusable at run time, `try Oracle.bochs.unusable("…")`.

import Foundation
import Testing
import CZydis

#if canImport(Glibc)
import Glibc
#endif

public enum Oracle: Hashable, Sendable, CustomStringConvertible {
    /// /dev/kvm: the host CPU running CPL3 code (KVMDiffTests).
    case kvm
    /// libZydis 4, the decoder oracle (opened with dlopen by Sources/CZydis/shim.h).
    case zydis
    /// /usr/bin/gdb, the stock debugger the gdb-in-the-loop tests drive.
    case gdb
    /// qemu-system-x86_64 (TCG): the guest images' second machine.
    case qemu
    /// Bochs 2.7 with VMX: the reference for the VMX images.
    case bochs
    /// GuestImages/build/NAME.elf (a fixture: `make -C GuestImages`).
    case guestImage(String)
    /// make, the C compiler and ld: what builds GuestImages (the integration tests build them).
    case imageTools
    /// The vmxemu executable next to the test bundle (a fixture: `swift build`).
    case vmxemu
    /// Another program a test drives (an absolute path), and the Debian package that has it.
    case program(String, package: String)

    /// The name VMXEMU_ORACLE_HIDE uses for it.
    public var hideName: String {
        switch self {
        case .kvm: return "kvm"
        case .zydis: return "zydis"
        case .gdb: return "gdb"
        case .qemu: return "qemu"
        case .bochs: return "bochs"
        case .guestImage, .imageTools: return "images"
        case .vmxemu: return "vmxemu"
        case let .program(path, _): return URL(fileURLWithPath: path).lastPathComponent
        }
    }

    public var description: String {
        switch self {
        case .kvm: return "/dev/kvm"
        case .zydis: return "Zydis 4 (libZydis.so.4)"
        case .gdb: return GDBPath.path
        case .qemu: return "qemu-system-x86_64"
        case .bochs: return "Bochs 2.7 with VMX (bochs)"
        case let .guestImage(name): return "GuestImages/build/\(name).elf"
        case .imageTools: return "make, gcc (or $CC) and ld"
        case .vmxemu: return "the vmxemu executable"
        case let .program(path, _): return path
        }
    }

    /// The package or command that provides it.
    public var provider: String {
        switch self {
        case .kvm: return "a Linux kernel with KVM and read-write access to /dev/kvm (CI runs as root)"
        case .zydis: return "apt-get install libzydis-dev (scripts/setup.sh)"
        case .gdb: return "apt-get install gdb (scripts/setup.sh)"
        case .qemu: return "apt-get install qemu-system-x86 (scripts/setup.sh)"
        case .bochs: return "apt-get install bochs bochsbios (scripts/setup.sh)"
        case .guestImage: return "run `make -C GuestImages`"
        case .imageTools: return "apt-get install make gcc binutils (scripts/setup.sh)"
        case .vmxemu: return "run `swift build` (it puts vmxemu next to the test bundle)"
        case let .program(_, package): return "apt-get install \(package)"
        }
    }

    // MARK: - The environment

    /// VMXEMU_REQUIRE_ORACLES=1: a missing oracle fails the test instead of skipping it.
    public static var requireAll: Bool { ProcessInfo.processInfo.environment["VMXEMU_REQUIRE_ORACLES"] == "1" }

    /// The names in VMXEMU_ORACLE_HIDE (comma- or space-separated).
    public static var hidden: Set<String> {
        let raw = ProcessInfo.processInfo.environment["VMXEMU_ORACLE_HIDE"] ?? ""
        return Set(raw.split(whereSeparator: { $0 == "," || $0 == " " }).map { $0.lowercased() })
    }

    /// The names VMXEMU_ORACLE_HIDE accepts.
    public static let hideNames: [String] = ["kvm", "zydis", "gdb", "qemu", "bochs", "images", "vmxemu"]

    // MARK: - Availability

    /// nil when present, else why not (without the provider).
    public var missingReason: String? {
        if Self.hidden.contains(hideName) { return "hidden by VMXEMU_ORACLE_HIDE=\(ProcessInfo.processInfo.environment["VMXEMU_ORACLE_HIDE"] ?? "")" }
        switch self {
        case .kvm: return Probes.kvm
        case .zydis: return Probes.zydis
        case .gdb: return FileManager.default.isExecutableFile(atPath: GDBPath.path) ? nil : "\(GDBPath.path) is not installed"
        case .qemu: return Self.onPath("qemu-system-x86_64") ? nil : "qemu-system-x86_64 is not on PATH"
        case .bochs:
            let bochs = ProcessInfo.processInfo.environment["BOCHS"].flatMap { $0.isEmpty ? nil : $0 } ?? "bochs"
            return Self.onPath(bochs) ? nil : "\(bochs) is not on PATH"
        case let .guestImage(name):
            return FileManager.default.fileExists(atPath: Self.imagePath(name)) ? nil : "\(Self.imagePath(name)) does not exist"
        case .imageTools:
            let cc = ProcessInfo.processInfo.environment["CC"].flatMap { $0.isEmpty ? nil : $0 } ?? "gcc"
            let absent = ["make", cc, "ld"].filter { !Self.onPath($0) }
            return absent.isEmpty ? nil : "\(absent.joined(separator: ", ")) not on PATH, so GuestImages cannot be built"
        case .vmxemu: return Self.vmxemuPath == nil ? "no vmxemu executable next to the test bundle" : nil
        case let .program(path, _): return FileManager.default.isExecutableFile(atPath: path) ? nil : "\(path) is not installed"
        }
    }

    public var isAvailable: Bool { missingReason == nil }

    /// The message of a missing oracle: what, why, and what provides it.
    public func message(_ reason: String) -> String {
        "\(description) is missing (\(reason)); \(provider)"
    }

    /// The first missing one of `oracles`, with its message; nil when all are present.
    public static func firstMissing(_ oracles: [Oracle]) -> (Oracle, String)? {
        for o in oracles { if let why = o.missingReason { return (o, o.message(why)) } }
        return nil
    }

    // MARK: - Acting on it

    /// Inside a test body: returns when every oracle is present; otherwise fails the test
    /// (VMXEMU_REQUIRE_ORACLES=1) or skips it, with the reason.
    public static func require(_ oracles: Oracle..., sourceLocation: SourceLocation = #_sourceLocation) throws {
        if let (o, msg) = firstMissing(oracles) { try o.missing(msg, sourceLocation: sourceLocation) }
    }

    /// The oracle turned out to be unusable at run time (a script exited 77, an ioctl failed):
    /// fail or skip by the same rule.
    public func unusable(_ reason: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Never {
        try missing(message(reason), sourceLocation: sourceLocation)
    }

    func missing(_ msg: String, sourceLocation: SourceLocation) throws -> Never {
        if Self.requireAll {
            throw OracleMissing(oracle: self, message: msg)
        }
        print("SKIPPED (not a pass): \(msg)")
        try Test.cancel(Comment(rawValue: "skipped: \(msg)"), sourceLocation: sourceLocation)
    }

    // MARK: - Helpers

    public static func onPath(_ tool: String) -> Bool {
        if tool.contains("/") { return FileManager.default.isExecutableFile(atPath: tool) }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)") }
    }

    /// The repository root (this file is Tests/TestSupport/Oracle.swift).
    public static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    public static func imagePath(_ name: String) -> String { "\(repo)/GuestImages/build/\(name).elf" }

    /// The vmxemu executable: VMXEMU_BIN if it names one (e.g. a release build), else the one
    /// `swift build` put next to the test bundle.
    public static let vmxemuPath: String? = {
        if let bin = ProcessInfo.processInfo.environment["VMXEMU_BIN"], FileManager.default.isExecutableFile(atPath: bin) {
            return bin
        }
        var dirs: [String] = []
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            dirs.append(URL(fileURLWithPath: exe).deletingLastPathComponent().path)
        }
        dirs.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path)
        for d in dirs {
            // The bundle may be `X.xctest` (a file on Linux) or a directory inside one.
            for candidate in ["\(d)/vmxemu", "\(d)/../vmxemu", "\(d)/../../../vmxemu"]
            where FileManager.default.isExecutableFile(atPath: candidate) {
                return URL(fileURLWithPath: candidate).standardized.path
            }
        }
        return nil
    }()
}

/// The error a test fails with when an oracle it needs is missing under VMXEMU_REQUIRE_ORACLES=1.
public struct OracleMissing: Error, CustomStringConvertible {
    public let oracle: Oracle
    public let message: String
    public var description: String { "VMXEMU_REQUIRE_ORACLES=1 and \(message)" }
}

enum GDBPath {
    static let path = "/usr/bin/gdb"
}

/// The probes that cost something, run once per test process.
enum Probes {
    /// Opening /dev/kvm, its API version (12) and KVM_CREATE_VM (the differential test then
    /// makes its own VM and reports anything else that fails).
    static let kvm: String? = {
        let fd = open("/dev/kvm", O_RDWR | O_CLOEXEC)
        if fd < 0 { return "cannot open /dev/kvm: \(String(cString: strerror(errno)))" }
        defer { close(fd) }
        let version = ioctl(fd, 0xAE00, 0)                 // KVM_GET_API_VERSION = _IO(KVMIO, 0x00)
        if version != 12 { return "KVM_GET_API_VERSION is \(version), not 12" }
        let vm = ioctl(fd, 0xAE01, 0)                      // KVM_CREATE_VM = _IO(KVMIO, 0x01)
        if vm < 0 { return "KVM_CREATE_VM failed: \(String(cString: strerror(errno)))" }
        close(vm)
        return nil
    }()

    static let zydis: String? = {
        guard let why = vmxemu_zydis_open() else { return nil }
        return String(cString: why)
    }()
}

// MARK: - Swift Testing

/// `.requires(...)` on a suite or a test: before it runs, each oracle is probed; a missing one
/// fails it (VMXEMU_REQUIRE_ORACLES=1) or skips it, with the reason.
public struct OracleTrait: TestTrait, SuiteTrait {
    public let oracles: [Oracle]
    public var isRecursive: Bool { false }

    public init(oracles: [Oracle]) { self.oracles = oracles }

    public func prepare(for test: Test) async throws {
        guard let (o, msg) = Oracle.firstMissing(oracles) else { return }
        if Oracle.requireAll { throw OracleMissing(oracle: o, message: msg) }
        print("SKIPPED (not a pass): \(test.name): \(msg)")
        try await ConditionTrait.disabled(Comment(rawValue: "skipped: \(msg)")).prepare(for: test)
    }

    public var comments: [Comment] { [Comment(rawValue: "requires \(oracles.map(\.description).joined(separator: ", "))")] }
}

extension TestTrait where Self == OracleTrait {
    public static func requires(_ oracles: Oracle...) -> OracleTrait { OracleTrait(oracles: oracles) }
}

extension SuiteTrait where Self == OracleTrait {
    public static func requires(_ oracles: Oracle...) -> OracleTrait { OracleTrait(oracles: oracles) }
}
