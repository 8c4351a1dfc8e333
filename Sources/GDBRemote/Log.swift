// Diagnostics go to stderr, never stdout (stdout belongs to the emulator's guest console).
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

public enum GDBLog {
    /// Writes one line, prefixed "gdb: ", to stderr.
    public static let stderrSink: @Sendable (String) -> Void = { message in
        var line = Array("gdb: \(message)\n".utf8)
        line.withUnsafeMutableBytes { buf in
            guard let base = buf.baseAddress else { return }
            var done = 0
            while done < buf.count {
                let n = write(2, base + done, buf.count - done)
                if n <= 0 { return }
                done += n
            }
        }
    }
}
