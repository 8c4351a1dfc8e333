// Hex helpers shared by the codec, the packet parser and the reply encoder.
//
// The remote protocol speaks ASCII hex almost everywhere: addresses and lengths are big-endian
// hex numbers without a prefix ("m1000,4"), register and memory contents are byte-wise hex pairs
// ("0a0b0c0d"). Every decoder here returns nil on malformed input: nothing that comes from the
// network may trap.

public enum Hex {
    @usableFromInline static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    /// The value of one ASCII hex digit, or nil.
    @inlinable
    public static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c &- UInt8(ascii: "a") &+ 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c &- UInt8(ascii: "A") &+ 10
        default: return nil
        }
    }

    /// Two lowercase hex digits for a byte.
    @inlinable
    public static func pair(_ byte: UInt8) -> (UInt8, UInt8) {
        (digits[Int(byte >> 4)], digits[Int(byte & 0xF)])
    }

    /// Bytes → "0a1b…" (lowercase).
    public static func encode<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for b in bytes {
            let (h, l) = pair(b)
            out.append(h)
            out.append(l)
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// "0a1b…" → bytes; nil on an odd length or a non-hex digit.
    public static func decode<C: Collection>(_ text: C) -> [UInt8]? where C.Element == UInt8 {
        guard text.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(text.count / 2)
        var it = text.makeIterator()
        while let h = it.next(), let l = it.next() {
            guard let hv = nibble(h), let lv = nibble(l) else { return nil }
            out.append(hv << 4 | lv)
        }
        return out
    }

    public static func decode(_ text: String) -> [UInt8]? { decode(Array(text.utf8)) }

    /// A big-endian hex number of at most 16 digits ("7fff0000") → UInt64; nil if empty,
    /// too long (after leading zeros) or not hex.
    public static func number<C: Collection>(_ text: C) -> UInt64? where C.Element == UInt8 {
        guard !text.isEmpty else { return nil }
        var value: UInt64 = 0
        var significant = 0
        for c in text {
            guard let v = nibble(c) else { return nil }
            if significant > 0 || v != 0 { significant += 1 }
            guard significant <= 16 else { return nil }
            value = value << 4 | UInt64(v)
        }
        return value
    }

    public static func number(_ text: Substring) -> UInt64? { number(Array(text.utf8)) }
    public static func number(_ text: String) -> UInt64? { number(Array(text.utf8)) }

    /// A number as minimal lowercase hex ("0", "1f").
    public static func string(_ value: UInt64) -> String { String(value, radix: 16) }

    /// Little-endian bytes of `value`, `count` bytes long (count ≤ 8 takes the low bytes; larger
    /// counts are zero-extended).
    public static func littleEndian(_ value: UInt64, count: Int) -> [UInt8] {
        (0..<max(0, count)).map { i in i < 8 ? UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) : 0 }
    }

    /// The low 8 bytes of a little-endian byte array as UInt64.
    public static func uint64(littleEndian bytes: [UInt8]) -> UInt64 {
        var v: UInt64 = 0
        for (i, b) in bytes.prefix(8).enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
        return v
    }
}
