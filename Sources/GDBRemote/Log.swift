// Diagnostics go to stderr, never stdout (stdout belongs to the emulator's guest console).
import HostIO

public enum GDBLog {
    /// Writes one line, prefixed "gdb: ", to stderr.
    public static let stderrSink: @Sendable (String) -> Void = { message in
        writeAll(fd: 2, "gdb: \(message)\n")
    }
}
