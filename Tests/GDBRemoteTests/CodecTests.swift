// The wire codec: framing, checksums, escapes, run-length encoding, acks, interrupts, bounds.
import Testing
@testable import GDBRemote

@Suite struct CodecTests {
    func decodeAll(_ bytes: [UInt8], maxPayload: Int = gdbMaxPacketSize) -> [PacketDecoder.Event] {
        var d = PacketDecoder(maxPayload: maxPayload)
        return d.feed(bytes)
    }

    /// Feeds one byte at a time (swift-nio's drip-feed style) and checks it matches bulk decoding.
    func dripFeed(_ bytes: [UInt8]) -> [PacketDecoder.Event] {
        var d = PacketDecoder()
        var events: [PacketDecoder.Event] = []
        for b in bytes { if let e = d.feed(byte: b) { events.append(e) } }
        return events
    }

    @Test func framesWithChecksum() {
        #expect(PacketEncoder.frame("OK") == Array("$OK#9a".utf8))
        #expect(PacketEncoder.frame("") == Array("$#00".utf8))
        #expect(PacketEncoder.frame("qSupported") == Array("$qSupported#37".utf8))
    }

    @Test func decodesKnownPacket() {
        #expect(decodeAll(Array("$OK#9a".utf8)) == [.packet(Array("OK".utf8))])
        // Upper-case checksum digits are accepted too ("$qC#b4" → "#B4").
        #expect(PacketEncoder.frame("qC") == Array("$qC#b4".utf8))
        #expect(decodeAll(Array("$qC#B4".utf8)) == [.packet(Array("qC".utf8))])
    }

    @Test func checksumFailureIsReported() {
        #expect(decodeAll(Array("$OK#00".utf8)) == [.badChecksum(payload: Array("OK".utf8))])
        #expect(decodeAll(Array("$OK#zz".utf8)) == [.badChecksum(payload: Array("OK".utf8))])
        // A good packet after a bad one still decodes.
        #expect(decodeAll(Array("$OK#9b$OK#9a".utf8)) == [.badChecksum(payload: Array("OK".utf8)), .packet(Array("OK".utf8))])
    }

    @Test func acksNacksAndInterruptBetweenPackets() {
        let events = decodeAll([UInt8(ascii: "+"), 0x03, UInt8(ascii: "-"), UInt8(ascii: "x")] + Array("$g#67".utf8) + [0x03])
        #expect(events == [.ack, .interrupt, .nack, .packet([UInt8(ascii: "g")]), .interrupt])
    }

    @Test func interruptByteInsidePacketIsData() {
        // 0x03 within binary X data is payload, not an interrupt.
        let payload: [UInt8] = Array("X10,1:".utf8) + [0x03]
        #expect(decodeAll(PacketEncoder.frame(payload)) == [.packet(payload)])
    }

    @Test func escapesRoundTrip() {
        let special: [UInt8] = [UInt8(ascii: "$"), UInt8(ascii: "#"), UInt8(ascii: "}"), UInt8(ascii: "*"), 0, 0x03, 0xff]
        let framed = PacketEncoder.frame(special)
        // Every special byte is escaped as } then byte^0x20.
        #expect(Array(framed[1...8]) == [0x7d, 0x04, 0x7d, 0x03, 0x7d, 0x5d, 0x7d, 0x0a])
        #expect(!framed.dropFirst().dropLast(3).contains(UInt8(ascii: "$")))
        #expect(!framed.dropFirst().dropLast(3).contains(UInt8(ascii: "#")))
        #expect(decodeAll(framed) == [.packet(special)])
    }

    @Test func allByteValuesRoundTrip() {
        let all = (0...255).map { UInt8($0) }
        #expect(decodeAll(PacketEncoder.frame(all)) == [.packet(all)])
        #expect(decodeAll(PacketEncoder.frame(all, runLengthEncoding: true)) == [.packet(all)])
    }

    @Test func runLengthDecoding() {
        // "0* " = '0' + (32 - 29) = 3 more zeros → "0000" (gdb's own example).
        #expect(decodeAll(PacketEncoder.frameRaw(Array("0* ".utf8))) == [.packet(Array("0000".utf8))])
        // Runs after other data, and two runs in a row.
        #expect(decodeAll(PacketEncoder.frameRaw(Array("ab*\"c".utf8))) == [.packet(Array("abbbbbbc".utf8))])
        #expect(decodeAll(PacketEncoder.frameRaw(Array("x*!y*!".utf8))) == [.packet(Array("xxxxxyyyyy".utf8))])
    }

    @Test func runLengthEncodingRoundTrips() {
        let cases: [[UInt8]] = [
            [UInt8](repeating: UInt8(ascii: "0"), count: 1000),
            Array("xxxxxxxxxxxxxxxx0000000".utf8),
            [UInt8](repeating: UInt8(ascii: "$"), count: 50),  // escaped bytes are never RLE'd
            [UInt8](repeating: UInt8(ascii: "a"), count: 7) + [UInt8](repeating: UInt8(ascii: "b"), count: 8),
            (0..<200).map { UInt8(truncatingIfNeeded: $0 / 17) },
        ]
        for c in cases {
            let framed = PacketEncoder.frame(c, runLengthEncoding: true)
            #expect(decodeAll(framed) == [.packet(c)])
            // Run counts never produce characters a reader could misparse.
            let body = framed.dropFirst().dropLast(3)
            #expect(!body.contains(UInt8(ascii: "#")) && !body.contains(UInt8(ascii: "$")))
        }
        #expect(PacketEncoder.frame([UInt8](repeating: UInt8(ascii: "0"), count: 1000), runLengthEncoding: true).count < 60)
    }

    @Test func runLengthCannotOverflow() {
        // 5000 runs of 97 each would decode to ~485 KB; the decoder bounds it.
        var payload: [UInt8] = [UInt8(ascii: "a")]
        for _ in 0..<5000 { payload += [UInt8(ascii: "*"), 126] }
        #expect(decodeAll(PacketEncoder.frameRaw(payload)) == [.overflow])
    }

    @Test func oversizePacketIsDroppedAndDecoderRecovers() {
        let big = [UInt8](repeating: UInt8(ascii: "a"), count: 0x20001)
        var d = PacketDecoder()
        #expect(d.feed(PacketEncoder.frame(big)) == [.overflow])
        #expect(d.feed(Array("$g#67".utf8)) == [.packet([UInt8(ascii: "g")])])
        // Exactly the maximum is accepted.
        let max = [UInt8](repeating: UInt8(ascii: "a"), count: 0x20000)
        #expect(d.feed(PacketEncoder.frame(max)) == [.packet(max)])
    }

    @Test func lostHashRestartsOnDollar() {
        #expect(decodeAll(Array("$garbage$g#67".utf8)) == [.packet([UInt8(ascii: "g")])])
    }

    @Test func dripFeedMatchesBulk() {
        var stream: [UInt8] = [UInt8(ascii: "+")]
        stream += PacketEncoder.frame("qSupported:multiprocess+;swbreak+")
        stream += [0x03]
        stream += PacketEncoder.frame(Array("X1000,4:".utf8) + [0x23, 0x24, 0x7d, 0x2a])
        stream += PacketEncoder.frame([UInt8](repeating: 0x30, count: 300), runLengthEncoding: true)
        stream += Array("$bad#00".utf8)
        stream += [UInt8(ascii: "-")]
        let bulk = decodeAll(stream)
        #expect(bulk.count == 7)
        #expect(dripFeed(stream) == bulk)
        // Any split into two chunks gives the same events.
        for split in stride(from: 0, to: stream.count, by: 7) {
            var d = PacketDecoder()
            let events = d.feed(stream[..<split]) + d.feed(stream[split...])
            #expect(events == bulk)
        }
    }

    @Test func midPacketState() {
        var d = PacketDecoder()
        _ = d.feed(Array("$abc".utf8))
        #expect(d.isMidPacket)
        _ = d.feed(Array("#26".utf8))
        #expect(!d.isMidPacket)
    }

    @Test func hexHelpers() {
        #expect(Hex.encode([0x00, 0x0a, 0xff]) == "000aff")
        #expect(Hex.decode("000aFF") == [0x00, 0x0a, 0xff])
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("zz") == nil)
        #expect(Hex.number("ffffffffffffffff") == UInt64.max)
        #expect(Hex.number("0000000000000000001") == 1)
        #expect(Hex.number("10000000000000000") == nil)
        #expect(Hex.number("") == nil)
        #expect(Hex.number("-1") == nil)
        #expect(Hex.littleEndian(0x1122334455667788, count: 10) == [0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0, 0])
        #expect(Hex.uint64(littleEndian: [0x34, 0x12]) == 0x1234)
    }
}
