import StateMachineAPI

/// What a client command looks like in the log: who sent it (for exactly-once), when the
/// leader accepted it (log time, for deterministic leases and session expiry) and the
/// plugin's encoded command.
struct CommandEnvelope: BinaryCodable, Hashable {
    static let version: UInt8 = 1

    var clientID: UInt64
    var sequence: UInt64
    /// Milliseconds, stamped by the leader; never decreases along the log.
    var time: UInt64
    var command: [UInt8]

    func encode(to writer: inout BinaryWriter) {
        writer.writeUInt8(Self.version)
        writer.writeVarint(clientID)
        writer.writeVarint(sequence)
        writer.writeVarint(time)
        writer.writeBytes(command)
    }

    init(clientID: UInt64, sequence: UInt64, time: UInt64, command: [UInt8]) {
        self.clientID = clientID
        self.sequence = sequence
        self.time = time
        self.command = command
    }

    init(from reader: inout BinaryReader) throws(BinaryDecodingError) {
        let version = try reader.readUInt8()
        guard version == Self.version else { throw reader.invalidValue("unknown command envelope version \(version)") }
        clientID = try reader.readVarint()
        sequence = try reader.readVarint()
        time = try reader.readVarint()
        command = try reader.readBytes()
    }
}
