// swift-tools-version:6.0
// vmxemu — an x86-64 machine emulator whose CPU implements Intel VMX, built for debugging hypervisors.
//
// Layers (dependencies point down; see docs/DESIGN.md):
//   vmxemu (CLI) ──► Debugger (Machine ⇄ gdb adapter) ──► GDBRemote (pure protocol + NIO transport)
//                                                     └──► Machine (RAM, devices, loader, run loop)
//                                                            └──► X86 (the CPU: decode, execute, MMU)
import PackageDescription

// The hot path (decode → execute → memory) lives in X86. Exclusivity checks cost ≈3× there
// (docs/DESIGN.md, "Hot-loop rules"); the core keeps its state behind unsafe pointers and never
// overlaps accesses.
let coreFlags: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"])]

let package = Package(
    name: "vmxemu",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "vmxemu", targets: ["vmxemu"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // The host's x87/SSE units do the guest's floating-point arithmetic (CFPU: inline asm).
        .target(name: "CFPU"),
        .target(name: "X86", dependencies: ["CFPU"], swiftSettings: coreFlags),
        // Host system calls the front ends share: writeAll(fd:) and the monotonic clock.
        .target(name: "HostIO"),
        .target(name: "Machine", dependencies: ["X86", "HostIO"], swiftSettings: coreFlags),
        .target(name: "GDBRemote", dependencies: [
            "HostIO",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        // The Machine ⇄ gdb adapter, and the command table shared by the REPL and `monitor`.
        .target(name: "Debugger", dependencies: ["Machine", "X86", "GDBRemote", "HostIO"]),
        // GNU readline (system library) and the REPL front door on the command table.
        .systemLibrary(name: "CReadline", path: "Sources/CReadline", pkgConfig: "readline"),
        .target(name: "REPL", dependencies: ["Debugger", "Machine", "X86", "CReadline", "HostIO"]),
        .executableTarget(name: "vmxemu", dependencies: [
            "Machine", "X86", "Debugger", "GDBRemote", "REPL", "HostIO",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "X86Tests", dependencies: ["X86"]),
        // Zydis is the decoder oracle of this test only (opened with dlopen; never linked into vmxemu).
        .systemLibrary(name: "CZydis", path: "Sources/CZydis"),
        .testTarget(name: "DecoderOracleTests", dependencies: ["X86", "Debugger", "CZydis", "TestSupport"]),
        // Random differential testing of the core against the host CPU through /dev/kvm (PVM, CPL3).
        .testTarget(name: "KVMDiffTests", dependencies: ["X86", "CZydis", "TestSupport"]),
        .testTarget(name: "MachineTests", dependencies: ["Machine", "X86", "TestSupport", "HostIO"]),
        .testTarget(name: "GDBRemoteTests", dependencies: ["GDBRemote", "TestSupport"]),
        .testTarget(name: "IntegrationTests", dependencies: ["Machine", "X86", "TestSupport"]),
        // Helpers shared by the test targets (process spawning, the seeded RNG, the oracle rule:
        // require or skip); not part of any product.
        .target(name: "TestSupport", dependencies: ["CZydis"], path: "Tests/TestSupport"),
        .testTarget(name: "DebuggerTests", dependencies: ["Debugger", "Machine", "X86", "GDBRemote", "TestSupport"]),
        .testTarget(name: "REPLTests", dependencies: ["REPL", "Debugger", "Machine", "X86", "GDBRemote", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
