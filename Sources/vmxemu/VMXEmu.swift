import ArgumentParser
import HostIO
import Machine
import X86

#if canImport(Glibc)
import Glibc
#endif

/// `vmxemu`: an x86-64 machine emulator whose CPU implements Intel VMX, built for debugging
/// hypervisors. Guest serial output goes to stdout untouched; everything vmxemu itself says goes
/// to stderr.
@main
struct VMXEmu: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vmxemu",
        abstract: "An x86-64 emulator with Intel VMX, built for debugging hypervisors.",
        discussion: """
        Boot a multiboot kernel:      vmxemu run GuestImages/build/hello.elf
        Measure the core's speed:     vmxemu bench

        Guest serial output (COM1, port 0x3F8) goes to stdout; vmxemu's own messages go to stderr.
        A guest ends the run by writing its exit status to port 0xF4.
        """,
        version: version,
        subcommands: [Run.self, Bench.self, Decode.self]
    )

    /// `vmxemu --version`: the release and the one SDM edition every VMX citation refers to.
    static let version = "vmxemu 0.1.0 (VMX per \(SDM.edition))"

    /// As ArgumentParser's `main`, except that arguments the parser rejects end with status 2 —
    /// the status vmxemu documents for bad arguments — instead of EX_USAGE (64).
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            if exitCode(for: error) == .validationFailure {
                eprint(fullMessage(for: error))
                Glibc.exit(2)
            }
            exit(withError: error)
        }
    }
}

func eprint(_ s: String) {
    var s = s
    if !s.hasSuffix("\n") { s += "\n" }
    writeAll(fd: 2, s)
}

/// Parse sizes like `128`, `128M`, `1G`, `65536K` (a bare number means MiB).
func parseSize(_ s: String) -> UInt64? {
    let t = s.trimmingCharacters(in: " ").uppercased()
    guard let last = t.last else { return nil }
    var mult: UInt64 = 1 << 20
    var digits = t
    switch last {
    case "K": mult = 1 << 10; digits.removeLast()
    case "M": mult = 1 << 20; digits.removeLast()
    case "G": mult = 1 << 30; digits.removeLast()
    case "B": mult = 1; digits.removeLast()
    default: break
    }
    guard let n = UInt64(digits), n > 0, n <= (64 << 30) / mult else { return nil }
    return n * mult
}

extension String {
    func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s.removeFirst() }
        while s.last == set { s.removeLast() }
        return String(s)
    }
}
