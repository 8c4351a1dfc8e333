// The wire format of the GDB remote serial protocol, without any transport.
//
//     +            ack            (gdb ⇄ stub, until QStartNoAckMode)
//     -            nack: "resend your last packet"
//     0x03         interrupt, only between packets
//     $payload#cs  a packet; cs = two hex digits, the sum of the payload bytes as sent, mod 256
//
// Inside a payload:  }X  is the byte X ^ 0x20 (escapes $ # } * and anything binary)
//                    c*N repeats c (N - 29) more times (run-length encoding; N is printable)
//
// `PacketDecoder` is a byte-at-a-time state machine (feed it whatever the socket delivered, in
// any split) that emits `Event`s. It never traps and never holds more than `maxPayload` bytes:
// an oversize packet is swallowed up to its checksum and reported as `.overflow`.
// `PacketEncoder` frames outgoing payloads, escaping `$ # } *` always (gdb un-escapes every
// reply), so binary data and text share one path.

/// The largest packet payload we accept (advertised as `PacketSize`). gdb reads PacketSize/2
/// bytes per `m` request; 0x20000 makes large dumps ~30× faster than QEMU's 0x1000.
public let gdbMaxPacketSize = 0x20000

public struct PacketDecoder: Sendable {
    public enum Event: Equatable, Sendable {
        /// A complete packet with a valid checksum: the payload with escapes and RLE undone.
        case packet([UInt8])
        /// A complete packet whose checksum did not match (or was not hex). `payload` is the
        /// decoded payload, for a peer in no-ack mode that may choose to accept it anyway.
        case badChecksum(payload: [UInt8])
        /// A packet longer than `maxPayload` (decoded) was discarded up to its end.
        case overflow
        case ack
        case nack
        /// The interrupt byte 0x03, seen between packets.
        case interrupt
    }

    private enum State: Sendable {
        case idle
        case payload
        case escape
        case runLength
        case checksumHigh
        case checksumLow(high: UInt8)
    }

    public let maxPayload: Int
    private var state: State = .idle
    private var buffer: [UInt8] = []
    private var sum: UInt8 = 0
    private var overflowed = false

    public init(maxPayload: Int = gdbMaxPacketSize) {
        self.maxPayload = max(1, maxPayload)
        buffer.reserveCapacity(256)
    }

    /// True while a packet is partly received.
    public var isMidPacket: Bool {
        if case .idle = state { return false }
        return true
    }

    /// Feeds bytes; returns the events they complete, in order.
    public mutating func feed<S: Sequence>(_ bytes: S) -> [Event] where S.Element == UInt8 {
        var events: [Event] = []
        for b in bytes {
            if let e = feed(byte: b) { events.append(e) }
        }
        return events
    }

    /// Feeds one byte; returns the event it completes, if any.
    public mutating func feed(byte b: UInt8) -> Event? {
        switch state {
        case .idle:
            switch b {
            case UInt8(ascii: "$"): begin()
            case UInt8(ascii: "+"): return .ack
            case UInt8(ascii: "-"): return .nack
            case 0x03: return .interrupt
            default: break  // line noise between packets is ignored, as gdbserver does
            }
        case .payload:
            switch b {
            case UInt8(ascii: "#"): state = .checksumHigh
            case UInt8(ascii: "$"): begin()  // a lost '#': the new '$' starts over
            case UInt8(ascii: "}"): sum &+= b; state = .escape
            case UInt8(ascii: "*"):
                sum &+= b
                // A run with nothing before it is malformed (gdb never sends one): keep the '*'
                // as a literal and let the parser reject the packet.
                if buffer.isEmpty { append(b) } else { state = .runLength }
            default: sum &+= b; append(b)
            }
        case .escape:
            sum &+= b
            append(b ^ 0x20)
            state = .payload
        case .runLength:
            sum &+= b
            // N - 29 repeats of the previous byte; gdb keeps N in 32...126 and away from $ # .
            let repeats = Int(b) - 29
            if repeats > 0, let last = buffer.last {
                if buffer.count + repeats > maxPayload {
                    overflowed = true
                } else {
                    buffer.append(contentsOf: repeatElement(last, count: repeats))
                }
            }
            state = .payload
        case .checksumHigh:
            state = .checksumLow(high: b)
        case .checksumLow(let high):
            state = .idle
            let payload = buffer
            buffer.removeAll(keepingCapacity: buffer.capacity <= 4096)
            if overflowed { overflowed = false; return .overflow }
            guard let h = Hex.nibble(high), let l = Hex.nibble(b), h << 4 | l == sum else {
                return .badChecksum(payload: payload)
            }
            return .packet(payload)
        }
        return nil
    }

    private mutating func begin() {
        state = .payload
        buffer.removeAll(keepingCapacity: buffer.capacity <= 4096)
        sum = 0
        overflowed = false
    }

    private mutating func append(_ b: UInt8) {
        if buffer.count < maxPayload { buffer.append(b) } else { overflowed = true }
    }
}

public enum PacketEncoder {
    /// True for the bytes that must be escaped inside a payload.
    @inlinable
    public static func needsEscape(_ b: UInt8) -> Bool {
        b == UInt8(ascii: "$") || b == UInt8(ascii: "#") || b == UInt8(ascii: "}") || b == UInt8(ascii: "*")
    }

    /// `$payload#cs` with `$ # } *` escaped and, optionally, runs of 4 or more equal bytes
    /// run-length encoded (`c*N`: c then N-29 more). Escaped bytes are never run-length encoded,
    /// so a reader's "repeat the previous byte" always sees the logical byte.
    public static func frame<C: Collection>(_ payload: C, runLengthEncoding: Bool = false) -> [UInt8]
    where C.Element == UInt8 {
        var out: [UInt8] = [UInt8(ascii: "$")]
        out.reserveCapacity(payload.count + 4)
        var sum: UInt8 = 0
        func put(_ b: UInt8) { out.append(b); sum &+= b }
        var i = payload.startIndex
        while i != payload.endIndex {
            let c = payload[i]
            var run = 1
            var j = payload.index(after: i)
            if runLengthEncoding {
                while j != payload.endIndex, payload[j] == c { run += 1; j = payload.index(after: j) }
            }
            i = j
            if needsEscape(c) {
                for _ in 0..<run { put(UInt8(ascii: "}")); put(c ^ 0x20) }
                continue
            }
            put(c)
            var remaining = run - 1
            while remaining > 0 {
                if remaining >= 3 {
                    var n = min(remaining, 126 - 29)
                    // Count characters that a reader could misparse: '#', '$', '+', '-'.
                    while [35, 36, 43, 45].contains(n + 29) { n -= 1 }
                    put(UInt8(ascii: "*"))
                    put(UInt8(n + 29))
                    remaining -= n
                    if remaining > 0 { put(c); remaining -= 1 }
                } else {
                    put(c)
                    remaining -= 1
                }
            }
        }
        out.append(UInt8(ascii: "#"))
        let (h, l) = Hex.pair(sum)
        out.append(h)
        out.append(l)
        return out
    }

    public static func frame(_ payload: String) -> [UInt8] { frame(Array(payload.utf8)) }

    /// `$payload#cs` with the payload taken verbatim (already escaped / RLE-encoded).
    public static func frameRaw(_ payload: [UInt8]) -> [UInt8] {
        var sum: UInt8 = 0
        for b in payload { sum &+= b }
        let (h, l) = Hex.pair(sum)
        return [UInt8(ascii: "$")] + payload + [UInt8(ascii: "#"), h, l]
    }
}
