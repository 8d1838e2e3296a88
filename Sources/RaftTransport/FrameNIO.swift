package import NIOCore

extension ByteBuffer: WireOutput {
    package var wireCount: Int { writerIndex }

    package mutating func writeWireByte(_ value: UInt8) {
        writeInteger(value)
    }

    package mutating func writeWireInteger<I: FixedWidthInteger>(_ value: I) {
        writeInteger(value, endianness: .big)
    }

    package mutating func writeWireBytes(_ bytes: [UInt8]) {
        writeBytes(bytes)
    }

    package mutating func setWireUInt32(_ value: UInt32, at position: Int) {
        setInteger(value, at: position, endianness: .big)
    }

    package mutating func truncateWire(to position: Int) {
        moveWriterIndex(to: position)
    }
}

extension FrameCodec {
    /// `encode(_:into:)` for a `ByteBuffer`, not generic: callers in other modules (the client
    /// port, the client) run the code specialized here instead of going through the protocol's
    /// witness table for every integer.
    package func encode(_ frame: Frame, into buffer: inout ByteBuffer) throws(WireError) {
        try write(frame, to: &buffer)
    }
}

/// Splits a TCP byte stream into frames with `FrameCodec`.
///
/// The length prefix is checked against the limit as soon as its four bytes arrive, so an
/// oversized frame fails before anything is buffered for it.
package struct FrameDecoder: ByteToMessageDecoder {
    package typealias InboundOut = Frame

    let codec: FrameCodec

    package init(codec: FrameCodec) {
        self.codec = codec
    }

    package mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let prefix = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: UInt32.self) else {
            return .needMoreData
        }
        let length = try codec.frameLength(prefix: prefix)
        guard buffer.readableBytes >= FrameCodec.lengthPrefixSize + length else {
            return .needMoreData
        }
        buffer.moveReaderIndex(forwardBy: FrameCodec.lengthPrefixSize)
        // Cannot fail: the readable length was checked above.
        let body = buffer.readBytes(length: length) ?? []
        context.fireChannelRead(Self.wrapInboundOut(try codec.decodeFrame(body: body)))
        return .continue
    }

    package mutating func decodeLast(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer,
        seenEOF: Bool
    ) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        if seenEOF, buffer.readableBytes > 0 {
            throw WireError(
                .truncated,
                "connection closed inside a frame (\(buffer.readableBytes) bytes pending)",
                offset: 0
            )
        }
        return .needMoreData
    }
}
