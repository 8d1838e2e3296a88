import RaftCore
public import StateMachineAPI

/// What a client asks of a group: the payload of a native-protocol client request frame
/// (`RaftTransport`'s `clientRequest(id:group:payload:)`), also used in-process.
///
/// Layout (version 1): `version u8 | kind u8 | fields`:
/// - command (1): `clientID varint | sequence varint | command bytes`
/// - query (2): `consistency u8 (0 linearizable, 1 stale) | query bytes`
public enum ClientRequest: BinaryCodable, Sendable, Hashable {
    case command(Replica.ClientCommand)
    case query([UInt8], consistency: Replica.ReadConsistency)

    static let version: UInt8 = 1

    public func encode(to writer: inout BinaryWriter) {
        writer.writeUInt8(Self.version)
        switch self {
        case .command(let command):
            writer.writeUInt8(1)
            writer.writeVarint(command.clientID)
            writer.writeVarint(command.sequence)
            writer.writeBytes(command.command)
        case .query(let query, let consistency):
            writer.writeUInt8(2)
            writer.writeUInt8(consistency == .linearizable ? 0 : 1)
            writer.writeBytes(query)
        }
    }

    public init(from reader: inout BinaryReader) throws(BinaryDecodingError) {
        let version = try reader.readUInt8()
        guard version == Self.version else {
            throw reader.invalidValue("unsupported client protocol version \(version)")
        }
        switch try reader.readUInt8() {
        case 1:
            let clientID = try reader.readVarint()
            let sequence = try reader.readVarint()
            let command = try reader.readBytes()
            self = .command(Replica.ClientCommand(clientID: clientID, sequence: sequence, command: command))
        case 2:
            let consistency: Replica.ReadConsistency
            switch try reader.readUInt8() {
            case 0: consistency = .linearizable
            case 1: consistency = .stale
            case let tag: throw reader.invalidValue("unknown read consistency \(tag)")
            }
            self = .query(try reader.readBytes(), consistency: consistency)
        case let kind:
            throw reader.invalidValue("unknown client request kind \(kind)")
        }
    }
}

/// The answer to a ``ClientRequest``: the payload of a `clientResponse` frame.
///
/// Layout (version 1): `version u8 | status u8 | fields`:
/// - ok (0): `response bytes` (the plugin's encoded response)
/// - error (1): `code u8 (ReplicaError.Code) | leader varint (0: unknown) | message string`
/// - unknown group (2): `message string`
public enum ClientResponse: BinaryCodable, Sendable, Hashable {
    case ok([UInt8])
    case error(ReplicaError)
    case unknownGroup(String)

    static let version: UInt8 = 1

    public init(_ result: Result<[UInt8], ReplicaError>) {
        switch result {
        case .success(let bytes): self = .ok(bytes)
        case .failure(let error): self = .error(error)
        }
    }

    public func encode(to writer: inout BinaryWriter) {
        writer.writeUInt8(Self.version)
        switch self {
        case .ok(let bytes):
            writer.writeUInt8(0)
            writer.writeBytes(bytes)
        case .error(let error):
            writer.writeUInt8(1)
            writer.writeUInt8(error.code.rawValue)
            writer.writeVarint(error.leaderHint?.rawValue ?? 0)
            writer.writeString(error.message)
        case .unknownGroup(let message):
            writer.writeUInt8(2)
            writer.writeString(message)
        }
    }

    public init(from reader: inout BinaryReader) throws(BinaryDecodingError) {
        let version = try reader.readUInt8()
        guard version == Self.version else {
            throw reader.invalidValue("unsupported client protocol version \(version)")
        }
        switch try reader.readUInt8() {
        case 0:
            self = .ok(try reader.readBytes())
        case 1:
            let rawCode = try reader.readUInt8()
            guard let code = ReplicaError.Code(rawValue: rawCode) else {
                throw reader.invalidValue("unknown error code \(rawCode)")
            }
            let leader = try reader.readVarint()
            let message = try reader.readString()
            self = .error(ReplicaError(code, message, leaderHint: leader == 0 ? nil : NodeID(leader)))
        case 2:
            self = .unknownGroup(try reader.readString())
        case let status:
            throw reader.invalidValue("unknown client response status \(status)")
        }
    }
}
