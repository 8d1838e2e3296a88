import RaftCore
import Testing

@testable import RaftTransport

/// Payloads small enough to cut at every byte quickly.
private let smallPayloadIndices = samplePayloads.indices.filter {
    message(samplePayloads[$0]).approximateByteSize < 4096
}

private let sampleFrames: [Frame] = [
    .handshake(Handshake(clusterName: "prod", sender: NodeID(1), receiver: NodeID(2), groups: ["kv", "q"])),
    .handshake(Handshake(clusterName: "", sender: NodeID(0), receiver: NodeID(.max), groups: [])),
    .handshakeAccept(protocolVersion: 1, node: NodeID(2)),
    .handshakeReject(reason: "unknown node n9 — ünïcode"),
    .clientRequest(id: 77, group: "kv", payload: [1, 2, 3]),
    .clientRequest(id: .max, group: "", payload: []),
    .clientResponse(id: 77, payload: Array(repeating: 7, count: 100_000)),
]

@Suite("Frame codec")
struct FrameCodecTests {
    let codec = FrameCodec()

    @Test("every payload kind round-trips through a raft frame", arguments: samplePayloads.indices)
    func payloadRoundTrip(index: Int) throws {
        let frame = Frame.raft(group: GroupID(3), message: message(samplePayloads[index]))
        let bytes = try codec.encode(frame)
        #expect(try codec.decode(bytes) == frame)
    }

    @Test("every frame type round-trips", arguments: sampleFrames.indices)
    func frameRoundTrip(index: Int) throws {
        #expect(try codec.decode(try codec.encode(sampleFrames[index])) == sampleFrames[index])
    }

    @Test("the length prefix counts the type byte and the body")
    func lengthPrefix() throws {
        let bytes = try codec.encode(.clientResponse(id: 1, payload: [5]))
        // type 1 + id 8 + length 4 + payload 1
        #expect(bytes.prefix(4) == [0, 0, 0, 14])
        #expect(bytes.count == 18)
        #expect(bytes[4] == 0x21)
    }

    @Test("every truncation of a valid frame is an error", arguments: smallPayloadIndices)
    func truncations(index: Int) throws {
        let bytes = try codec.encode(.raft(group: GroupID(1), message: message(samplePayloads[index])))
        for length in 0..<bytes.count {
            #expect(throws: WireError.self) { try codec.decode(Array(bytes[..<length])) }
        }
        // The body alone, cut anywhere, must fail too (a lying length prefix is caught separately).
        let body = Array(bytes[4...])
        for length in 0..<body.count {
            #expect(throws: WireError.self) { try codec.decodeFrame(body: Array(body[..<length])) }
        }
    }

    @Test("every truncation of a handshake is an error")
    func handshakeTruncations() throws {
        let bytes = try codec.encode(
            .handshake(Handshake(clusterName: "c", sender: NodeID(1), receiver: NodeID(2), groups: ["a", "bb"]))
        )
        for length in 0..<bytes.count {
            #expect(throws: WireError.self) { try codec.decode(Array(bytes[..<length])) }
        }
    }

    @Test("seeded random garbage never crashes")
    func randomGarbage() {
        var generator = SeededGenerator(seed: 0x5EED)
        var decoded = 0
        for _ in 0..<20_000 {
            let count = Int.random(in: 0..<64, using: &generator)
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if (try? codec.decodeFrame(body: bytes)) != nil {
                decoded += 1
            }
            _ = try? codec.decode(bytes)
        }
        // Almost all garbage fails; the point is that none of it crashed or hung.
        #expect(decoded < 200)
    }

    @Test("seeded mutations of valid frames never crash")
    func mutatedFrames() throws {
        var generator = SeededGenerator(seed: 42)
        let frames = try smallPayloadIndices.map {
            try codec.encode(.raft(group: GroupID(0), message: message(samplePayloads[$0])))
        }
        for _ in 0..<20_000 {
            var bytes = frames[Int.random(in: 0..<frames.count, using: &generator)]
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            if let frame = try? codec.decode(bytes) {
                // Whatever decodes must encode back to the same bytes: the format has no slack.
                #expect(try codec.encode(frame) == bytes)
            }
        }
    }

    @Test("an oversized length prefix is rejected from its four bytes alone")
    func oversizedPrefix() {
        let small = FrameCodec(maxFrameSize: 1024)
        #expect(throws: WireError.self) { try small.frameLength(prefix: 1025) }
        #expect(throws: WireError.self) { try codec.frameLength(prefix: .max) }
        #expect(throws: WireError.self) { try codec.frameLength(prefix: 0) }
        #expect((try? small.frameLength(prefix: 1024)) == 1024)
        do {
            _ = try small.decode([0xFF, 0xFF, 0xFF, 0xFF])
            Issue.record("decoded an oversized frame")
        } catch {
            #expect(error.code == .oversized)
        }
    }

    @Test("counts larger than the remaining bytes are rejected before allocating")
    func hostileCounts() throws {
        // An append claiming 2^32 - 1 entries in a frame of a few bytes.
        var body: [UInt8] = [0x10, 0, 0, 0, 0]
        body += Array(repeating: 0, count: 24)  // from, to, term
        body += [5]  // append
        body += Array(repeating: 0, count: 24)  // prevLogIndex, prevLogTerm, leaderCommit
        body += [0xFF, 0xFF, 0xFF, 0xFF]
        #expect(throws: WireError.self) { try codec.decodeFrame(body: body) }
        do {
            _ = try codec.decodeFrame(body: body)
        } catch {
            #expect(error.code == .lengthOverflow)
        }
        // A byte string claiming 4 GiB.
        let response: [UInt8] = [0x21] + Array(repeating: 0, count: 8) + [0xFF, 0xFF, 0xFF, 0xFE, 1, 2]
        do {
            _ = try codec.decodeFrame(body: response)
            Issue.record("decoded a lying byte string")
        } catch {
            #expect(error.code == .lengthOverflow)
        }
    }

    @Test("malformed bodies give typed errors")
    func typedErrors() throws {
        func code(_ body: [UInt8]) -> WireError.Code? {
            do {
                _ = try codec.decodeFrame(body: body)
                return nil
            } catch {
                return error.code
            }
        }
        #expect(code([]) == .truncated)
        #expect(code([0x7F]) == .unknownFrameType)
        let header: [UInt8] = [0x10, 0, 0, 0, 1] + Array(repeating: 0, count: 24)
        #expect(code(header + [99]) == .badTag)
        #expect(code(header + [2, 2]) == .badTag)  // preVoteResponse with granted = 2
        #expect(code(header + [8] + Array(repeating: 0, count: 9)) == .trailingBytes)
        #expect(code([0x03, 0, 0, 0, 2, 0xC3, 0x28]) == .invalidUTF8)
        #expect(code([0x01, 0, 0, 0, 0]) == .badMagic)
        // An entry with kind 9.
        var append = header + [5] + Array(repeating: 0, count: 24) + [0, 0, 0, 1]
        append += Array(repeating: 0, count: 16) + [9, 0, 0, 0, 0]
        #expect(code(append) == .badTag)
        #expect(code(header + [11, 4]) == .badTag)  // transfer kind 4
        #expect(code(header + [11, 3]) == .truncated)  // a quiescing heartbeat without its fields
        #expect(code(header + [11, 0, 0]) == .trailingBytes)  // timeoutNow has no fields
    }

    @Test("leadership transfer leaves the version-1 vote layout alone and uses tag 11")
    func transferLayout() throws {
        func body(_ payload: Message.Payload) throws -> [UInt8] {
            let bytes = try codec.encode(.raft(group: GroupID(0), message: message(payload)))
            // Skip the length prefix, frame type, group and the from/to/term header.
            return Array(bytes[(FrameCodec.lengthPrefixSize + 1 + 4 + 24)...])
        }
        let position: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 4]
        #expect(try body(.vote(VoteRequest(lastLogIndex: 9, lastLogTerm: 4))) == [3] + position)
        #expect(try body(.vote(VoteRequest(lastLogIndex: 9, lastLogTerm: 4, transfer: true))) == [11, 1] + position)
        #expect(try body(.timeoutNow) == [11, 0])
    }

    @Test("encoding a frame over the limit fails and leaves the output untouched")
    func oversizedEncode() throws {
        let small = FrameCodec(maxFrameSize: 100)
        var output: [UInt8] = [1, 2, 3]
        let big = Frame.clientResponse(id: 1, payload: Array(repeating: 0, count: 200))
        #expect(throws: WireError.self) { try small.encode(big, into: &output) }
        #expect(output == [1, 2, 3])
        try small.encode(.clientResponse(id: 1, payload: []), into: &output)
        #expect(try small.decode(Array(output[3...])) == .clientResponse(id: 1, payload: []))
    }

    @Test("a handshake from a later version may carry extra fields")
    func handshakeExtension() throws {
        let handshake = Handshake(
            protocolVersion: 99,
            clusterName: "c",
            sender: NodeID(1),
            receiver: NodeID(2),
            groups: []
        )
        var bytes = try codec.encode(.handshake(handshake))
        bytes += [1, 2, 3]
        bytes[3] += 3
        #expect(try codec.decode(bytes) == .handshake(handshake))
    }
}
