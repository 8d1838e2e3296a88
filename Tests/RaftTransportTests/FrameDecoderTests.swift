import NIOCore
import NIOEmbedded
import RaftCore
import Testing

@testable import RaftTransport

@Suite("NIO frame decoder")
struct FrameDecoderTests {
    private func makeChannel(maxFrameSize: Int = 1 << 20) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(
            ByteToMessageHandler(FrameDecoder(codec: FrameCodec(maxFrameSize: maxFrameSize)))
        )
        return channel
    }

    @Test("frames split at every byte are reassembled in order")
    func byteByByte() throws {
        let channel = try makeChannel()
        let frames = samplePayloads.prefix(6).map { Frame.raft(group: GroupID(1), message: message($0)) }
        var bytes: [UInt8] = []
        for frame in frames {
            try FrameCodec().encode(frame, into: &bytes)
        }
        for byte in bytes {
            try channel.writeInbound(ByteBuffer(bytes: [byte]))
        }
        for frame in frames {
            #expect(try channel.readInbound(as: Frame.self) == frame)
        }
        #expect(try channel.readInbound(as: Frame.self) == nil)
        #expect(try channel.finish().isClean)
    }

    @Test("an oversized length prefix fails after four bytes")
    func oversized() throws {
        let channel = try makeChannel(maxFrameSize: 64)
        #expect(throws: WireError.self) { try channel.writeInbound(ByteBuffer(bytes: [0, 0, 0, 65])) }
        _ = try? channel.finish()
    }

    @Test("a connection closed inside a frame is an error")
    func truncatedAtEOF() throws {
        let channel = try makeChannel()
        var bytes = try FrameCodec().encode(.clientResponse(id: 1, payload: [1, 2, 3]))
        bytes.removeLast()
        try channel.writeInbound(ByteBuffer(bytes: bytes))
        #expect(throws: WireError.self) { try channel.finish() }
    }
}
