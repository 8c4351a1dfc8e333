// Where the guest's console bytes go: the 16550's transmitter and the 0xE9 port both write into
// one `ConsoleSink`. Standard output belongs to the guest; the emulator's own messages go to stderr.

import HostIO
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A byte-oriented output for guest console data. Bytes are passed through untouched (binary safe).
public protocol ConsoleSink: AnyObject {
    func write(_ byte: UInt8)
    /// Pushes out anything buffered. Call it when the machine stops.
    func flush()
}

/// Writes to a file descriptor (stdout, or a file for `--serial file:PATH`).
///
/// Buffered "unbuffered-ish": bytes are collected and written at each newline, when 4 KiB have
/// accumulated, on `flush()`, and on deinit. Writes use write(2) directly (no stdio buffer), retry
/// on EINTR and partial writes, and drop the data on any other error (e.g. a closed pipe), since
/// the guest must not be stopped by its console.
public final class FileDescriptorSink: ConsoleSink {
    public let fileDescriptor: Int32
    private let ownsDescriptor: Bool
    private var buffer: [UInt8] = []
    /// Flush threshold in bytes.
    public static let bufferLimit = 4096

    /// Wraps an open descriptor; it is closed on deinit only if `ownsDescriptor`.
    public init(fileDescriptor: Int32, ownsDescriptor: Bool = false) {
        self.fileDescriptor = fileDescriptor
        self.ownsDescriptor = ownsDescriptor
        buffer.reserveCapacity(Self.bufferLimit)
    }

    /// The process's standard output.
    public static func standardOutput() -> FileDescriptorSink { FileDescriptorSink(fileDescriptor: 1) }

    /// Creates (or truncates) `path` and writes to it.
    public convenience init(path: String) throws(SinkError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw .cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        self.init(fileDescriptor: fd, ownsDescriptor: true)
    }

    deinit {
        flush()
        if ownsDescriptor { close(fileDescriptor) }
    }

    public func write(_ byte: UInt8) {
        buffer.append(byte)
        if byte == 0x0A || buffer.count >= Self.bufferLimit { flush() }
    }

    public func flush() {
        guard !buffer.isEmpty else { return }
        writeAll(fd: fileDescriptor, buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}

/// Collects bytes in memory (tests, scripted sessions, the REPL's capture of guest output).
public final class MemorySink: ConsoleSink {
    public private(set) var bytes: [UInt8] = []
    /// How many times `flush()` was called.
    public private(set) var flushCount = 0

    public init() {}
    public func write(_ byte: UInt8) { bytes.append(byte) }
    public func flush() { flushCount += 1 }
    /// The bytes as UTF-8 text (invalid sequences replaced).
    public var text: String { String(decoding: bytes, as: UTF8.self) }
    public func removeAll() { bytes.removeAll() }
}

/// Discards everything (`--serial none`).
public final class NullSink: ConsoleSink {
    public init() {}
    public func write(_ byte: UInt8) {}
    public func flush() {}
}

/// Why a console sink could not be made.
public enum SinkError: Error, Equatable, Sendable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case badSpec(String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason): "cannot open serial output file \(path.debugDescription): \(reason)"
        case let .badSpec(s): "bad serial target \(s.debugDescription): expected stdio, none, or file:PATH"
        }
    }
}

/// The `--serial` option: where console output goes.
public enum SerialTarget: Sendable, Hashable {
    /// Standard output (the default).
    case stdio
    /// A file, created or truncated (`file:PATH`).
    case file(path: String)
    /// Discarded.
    case none

    /// Parses `stdio` (or `stdout`), `none` (or `null`), `file:PATH`.
    public init(parsing spec: String) throws(SinkError) {
        switch spec {
        case "stdio", "stdout": self = .stdio
        case "none", "null": self = .none
        default:
            guard spec.hasPrefix("file:"), spec.count > 5 else { throw .badSpec(spec) }
            self = .file(path: String(spec.dropFirst(5)))
        }
    }

    public func makeSink() throws(SinkError) -> ConsoleSink {
        switch self {
        case .stdio: FileDescriptorSink.standardOutput()
        case .file(let path): try FileDescriptorSink(path: path)
        case .none: NullSink()
        }
    }
}
