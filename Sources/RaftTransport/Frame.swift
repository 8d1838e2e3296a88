package import RaftCore

/// The first frame an initiating peer sends on a new connection.
///
/// Its layout up to and including `protocolVersion` is frozen for all versions, so a node can
/// always read a newer peer's version and reject it by name rather than by a decoding error;
/// later versions may append fields, which version 1 ignores.
package struct Handshake: Sendable, Hashable {
    package var protocolVersion: UInt16
    package var clusterName: String
    /// The node that opened the connection.
    package var sender: NodeID
    /// The node the sender believes it dialled; a node at a recycled address says no.
    package var receiver: NodeID
    /// The configured group names in order: a raft frame's `GroupID` indexes this list, so
    /// both sides must agree on it.
    package var groups: [String]

    package init(
        protocolVersion: UInt16 = FrameCodec.protocolVersion,
        clusterName: String,
        sender: NodeID,
        receiver: NodeID,
        groups: [String]
    ) {
        self.protocolVersion = protocolVersion
        self.clusterName = clusterName
        self.sender = sender
        self.receiver = receiver
        self.groups = groups
    }
}

/// A frame: the unit of the peer and client protocols.
///
/// On the wire: `length u32 | type u8 | body`, where `length` counts the type byte and the body
/// and is at most the codec's `maxFrameSize`. Integers are big-endian; strings and byte strings
/// are a u32 length then the bytes. See `FrameCodec` for the bodies.
package enum Frame: Sendable, Hashable {
    /// Type 0x01: `magic u32 ("RAFT") | version u16 | cluster string | sender u64 | receiver u64 |
    /// group count u32 | group strings`.
    case handshake(Handshake)
    /// Type 0x02: `version u16 | node u64`: the acceptor's version and id.
    case handshakeAccept(protocolVersion: UInt16, node: NodeID)
    /// Type 0x03: `reason string`. The acceptor closes the connection after sending it.
    case handshakeReject(reason: String)
    /// Type 0x10: `group u32 | message`. See `Message.encode(into:)` for the message layout.
    case raft(group: GroupID, message: Message)
    /// Type 0x11, no body (protocol version 3): a node-level liveness ping, sent once per
    /// heartbeat on each peer connection, so that quiescent groups need no heartbeats of their
    /// own to notice a node that stopped answering.
    case ping
    /// Type 0x20: `id u64 | group string | payload bytes`. The payload is the client protocol's.
    case clientRequest(id: UInt64, group: String, payload: [UInt8])
    /// Type 0x21: `id u64 | payload bytes`, answering the request with the same id.
    case clientResponse(id: UInt64, payload: [UInt8])
    /// Type 0x22: `token string`: the bearer token the requests that follow on this client
    /// connection are made with (`auth` in `cluster.yaml`). Not answered; a later one replaces it.
    case clientCredentials(token: String)
}

private enum FrameType: UInt8 {
    case handshake = 0x01
    case handshakeAccept = 0x02
    case handshakeReject = 0x03
    case raft = 0x10
    case ping = 0x11
    case clientRequest = 0x20
    case clientResponse = 0x21
    case clientCredentials = 0x22
}

/// Encodes and decodes frames. Pure: no I/O and no NIO, so it can be tested and fuzzed cheaply.
package struct FrameCodec: Sendable {
    /// The protocol version this build speaks. Peers with another version are rejected.
    package static let protocolVersion: UInt16 = 3
    /// "RAFT": the first bytes of every handshake body, so stray traffic fails at once.
    package static let magic: UInt32 = 0x5241_4654
    /// Size of the length prefix.
    package static let lengthPrefixSize = 4
    /// Default `maxFrameSize`: 16 MiB, enough for a large append batch or snapshot chunk.
    package static let defaultMaxFrameSize = 16 << 20

    /// Largest accepted value of the length prefix (type byte plus body).
    package var maxFrameSize: Int

    package init(maxFrameSize: Int = FrameCodec.defaultMaxFrameSize) {
        precondition(maxFrameSize >= 1 && maxFrameSize <= Int(UInt32.max), "maxFrameSize out of range")
        self.maxFrameSize = maxFrameSize
    }

    // MARK: Encoding

    /// Appends `frame`, length prefix included, to `output`. If the frame would exceed
    /// `maxFrameSize`, `output` is left as it was and the error is `oversized`.
    package func encode<Output: WireOutput>(_ frame: Frame, into output: inout Output) throws(WireError) {
        try write(frame, to: &output)
    }

    /// The body of every `encode`: callers in this module get it specialized for their output.
    func write<Output: WireOutput>(_ frame: Frame, to output: inout Output) throws(WireError) {
        let start = output.wireCount
        output.writeWireInteger(UInt32(0))
        switch frame {
        case .handshake(let handshake):
            output.writeWireByte(FrameType.handshake.rawValue)
            output.writeWireInteger(Self.magic)
            output.writeWireInteger(handshake.protocolVersion)
            output.writeString(handshake.clusterName)
            output.writeWireInteger(handshake.sender.rawValue)
            output.writeWireInteger(handshake.receiver.rawValue)
            output.writeCount(handshake.groups.count)
            for group in handshake.groups {
                output.writeString(group)
            }
        case .handshakeAccept(let version, let node):
            output.writeWireByte(FrameType.handshakeAccept.rawValue)
            output.writeWireInteger(version)
            output.writeWireInteger(node.rawValue)
        case .handshakeReject(let reason):
            output.writeWireByte(FrameType.handshakeReject.rawValue)
            output.writeString(reason)
        case .raft(let group, let message):
            output.writeWireByte(FrameType.raft.rawValue)
            output.writeWireInteger(group.rawValue)
            message.encode(into: &output)
        case .ping:
            output.writeWireByte(FrameType.ping.rawValue)
        case .clientRequest(let id, let group, let payload):
            output.writeWireByte(FrameType.clientRequest.rawValue)
            output.writeWireInteger(id)
            output.writeString(group)
            output.writeLengthPrefixed(payload)
        case .clientResponse(let id, let payload):
            output.writeWireByte(FrameType.clientResponse.rawValue)
            output.writeWireInteger(id)
            output.writeLengthPrefixed(payload)
        case .clientCredentials(let token):
            output.writeWireByte(FrameType.clientCredentials.rawValue)
            output.writeString(token)
        }
        let length = output.wireCount - start - Self.lengthPrefixSize
        guard length <= maxFrameSize else {
            output.truncateWire(to: start)
            throw WireError(.oversized, "frame of \(length) bytes exceeds the limit of \(maxFrameSize)", offset: 0)
        }
        output.setWireUInt32(UInt32(length), at: start)
    }

    /// The encoding of `frame`, length prefix included.
    package func encode(_ frame: Frame) throws(WireError) -> [UInt8] {
        var bytes: [UInt8] = []
        try encode(frame, into: &bytes)
        return bytes
    }

    // MARK: Decoding

    /// Validates a length prefix before anything is buffered or allocated for the frame and
    /// returns the number of bytes (type plus body) that follow it.
    package func frameLength(prefix: UInt32) throws(WireError) -> Int {
        guard prefix >= 1 else {
            throw WireError(.truncated, "frame length 0 leaves no room for the frame type", offset: 0)
        }
        guard UInt64(prefix) <= UInt64(maxFrameSize) else {
            throw WireError(.oversized, "frame length \(prefix) exceeds the limit of \(maxFrameSize)", offset: 0)
        }
        return Int(prefix)
    }

    /// Decodes exactly one whole frame, length prefix included.
    package func decode(_ bytes: [UInt8]) throws(WireError) -> Frame {
        var reader = WireReader(bytes)
        let length = try frameLength(prefix: reader.readInteger(UInt32.self, "frame length"))
        guard reader.remaining >= length else {
            throw WireError(
                .truncated,
                "frame length \(length) but only \(reader.remaining) bytes follow",
                offset: Self.lengthPrefixSize
            )
        }
        guard reader.remaining == length else {
            throw WireError(.trailingBytes, "\(reader.remaining - length) bytes after the frame", offset: 0)
        }
        return try decodeFrame(body: Array(bytes[Self.lengthPrefixSize...]))
    }

    /// Decodes the bytes that follow a validated length prefix: the type byte and the body.
    package func decodeFrame(body: [UInt8]) throws(WireError) -> Frame {
        var reader = WireReader(body)
        let rawType = try reader.readByte("frame type")
        guard let type = FrameType(rawValue: rawType) else {
            throw WireError(.unknownFrameType, "frame type 0x\(String(rawType, radix: 16)) is unknown", offset: 0)
        }
        let frame: Frame
        switch type {
        case .handshake:
            let magic = try reader.readInteger(UInt32.self, "handshake magic")
            guard magic == Self.magic else {
                throw WireError(.badMagic, "handshake magic 0x\(String(magic, radix: 16))", offset: 1)
            }
            let version = try reader.readInteger(UInt16.self, "handshake protocol version")
            let clusterName = try reader.readString("cluster name")
            let sender = NodeID(try reader.readInteger(UInt64.self, "handshake sender"))
            let receiver = NodeID(try reader.readInteger(UInt64.self, "handshake receiver"))
            // A string takes at least its 4-byte length.
            let groupCount = try reader.readCount(minimumElementSize: 4, "groups")
            var groups: [String] = []
            groups.reserveCapacity(groupCount)
            for _ in 0..<groupCount {
                groups.append(try reader.readString("group name"))
            }
            // Later versions may append fields (see `Handshake`), so trailing bytes are allowed.
            return .handshake(
                Handshake(
                    protocolVersion: version,
                    clusterName: clusterName,
                    sender: sender,
                    receiver: receiver,
                    groups: groups
                )
            )
        case .handshakeAccept:
            frame = .handshakeAccept(
                protocolVersion: try reader.readInteger(UInt16.self, "accept protocol version"),
                node: NodeID(try reader.readInteger(UInt64.self, "accept node"))
            )
        case .handshakeReject:
            frame = .handshakeReject(reason: try reader.readString("reject reason"))
        case .raft:
            let group = GroupID(try reader.readInteger(UInt32.self, "group id"))
            frame = .raft(group: group, message: try Message(from: &reader))
        case .ping:
            frame = .ping
        case .clientRequest:
            frame = .clientRequest(
                id: try reader.readInteger(UInt64.self, "request id"),
                group: try reader.readString("request group"),
                payload: try reader.readLengthPrefixed("request payload")
            )
        case .clientResponse:
            frame = .clientResponse(
                id: try reader.readInteger(UInt64.self, "response id"),
                payload: try reader.readLengthPrefixed("response payload")
            )
        case .clientCredentials:
            frame = .clientCredentials(token: try reader.readString("client token"))
        }
        try reader.expectEnd("the frame body")
        return frame
    }
}
