import Foundation

/// SplitMix64: a small, fast generator that gives the same sequence for a seed on every platform
/// and every run — what the fuzz, oracle and differential tests need for reproducible CI runs.
/// Each test target adds the helpers it wants (`below`, `chance`, …) in its own extension.
public struct SplitMix64: RandomNumberGenerator {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public init(state: UInt64) { self.state = state }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The seeds a random oracle runs with: its fixed seed (CI reproducible; the test's own
/// environment variable may replace it), then — when VMXEMU_FRESH_SEED is set (scripts/test.sh
/// sets a new one per run and prints it) — that fresh seed too, because a fixed seed only ever
/// checks the same strings. Every report names the seed it used, so a failure reproduces by
/// passing it as the test's fixed seed.
public enum RandomSeeds {
    public static var fresh: UInt64? {
        guard let s = ProcessInfo.processInfo.environment["VMXEMU_FRESH_SEED"], !s.isEmpty else { return nil }
        let t = s.lowercased()
        return t.hasPrefix("0x") ? UInt64(t.dropFirst(2), radix: 16) : UInt64(t)
    }

    public static func seeds(fixed: UInt64) -> [UInt64] {
        guard let f = fresh, f != fixed else { return [fixed] }
        return [fixed, f]
    }
}
