public import RaftCore

// On-disk format, version 1. All integers little-endian.
//
// Segment file `log-<seq, 16 hex digits>.seg`:
//   header (20 bytes): "RLOG" | version u16 | reserved u16 | seq u64 | crc32c(previous 16 bytes) u32
//   records, back to back.
// Record:
//   length u32 | type u8 | reserved 3 bytes | crc32c(previous 8 bytes) u32 | crc32c(payload) u32 | payload
//   The header has its own checksum so that a damaged length is never trusted: recovery may treat
//   a record that runs past the end of the last segment as torn only if its length is known good.
// Payloads:
//   entry       term u64 | index u64 | kind u8 | data
//   hard state  term u64 | vote u64 | has vote u8 | commit u64
//   reset       index u64 | term u64: the log before this record is replaced by an empty log whose
//               base (snapshot point) is (index, term); written first in a rewritten segment.
//   compaction  index u64 | term u64 | segment u64 | offset u64: the log is based at (index, term)
//               and its entries are the ones recorded from (segment, offset) on, the position of
//               the entry at index + 1 (or, with no entry after the snapshot, of the hard state
//               record written just before this one). Nothing before that position is read any
//               more; segments wholly before it are deleted. Lets a snapshot of a large state
//               drop the log's prefix without rewriting the entries it keeps.
// Snapshot file `snap-<seq, 16 hex digits>.snap`, version 2:
//   "RSNP" | version u16 | reserved u16 | index u64 | term u64 | membership length u32
//   | membership (`Membership.encoded`) | data length u64 | data | crc32c(everything before) u32
// Version 1 (still read) had `voter count u32 | voters u64...` where version 2 has the membership.

/// A byte position in the log: a segment's sequence number and an offset in that file.
struct LogPosition: Hashable, Comparable, Sendable {
    var segment: UInt64
    var offset: Int64

    static func < (lhs: LogPosition, rhs: LogPosition) -> Bool {
        (lhs.segment, lhs.offset) < (rhs.segment, rhs.offset)
    }
}

enum Format {
    static let version: UInt16 = 1
    static let snapshotVersion: UInt16 = 2
    static let segmentMagic: [UInt8] = Array("RLOG".utf8)
    static let snapshotMagic: [UInt8] = Array("RSNP".utf8)
    static let segmentHeaderSize = 20
    static let recordHeaderSize = 16
    /// Larger lengths are rejected before allocating, even with a valid header checksum.
    static let maxPayloadSize = 1 << 30

    enum RecordType: UInt8 {
        case entry = 1
        case hardState = 2
        case reset = 3
        case compaction = 4
    }

    static func segmentName(_ seq: UInt64) -> String { "log-\(hex16(seq)).seg" }
    static func snapshotName(_ seq: UInt64) -> String { "snap-\(hex16(seq)).snap" }
    static let temporarySuffix = ".tmp"
    /// A preallocated file not yet a segment: removed at recovery without a warning.
    static let spareSuffix = ".spare"

    /// The sequence number in a segment or snapshot file name, or nil if the name is not one.
    static func sequence(inName name: String, prefix: String, suffix: String) -> UInt64? {
        guard name.hasPrefix(prefix), name.hasSuffix(suffix) else {
            return nil
        }
        let digits = name.dropFirst(prefix.count).dropLast(suffix.count)
        guard digits.count == 16 else {
            return nil
        }
        return UInt64(digits, radix: 16)
    }

    private static func hex16(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    // MARK: Encoding

    static func segmentHeader(seq: UInt64) -> [UInt8] {
        var bytes = segmentMagic
        bytes.appendLittleEndian(version)
        bytes.appendLittleEndian(UInt16(0))
        bytes.appendLittleEndian(seq)
        bytes.appendLittleEndian(CRC32C.checksum(bytes))
        return bytes
    }

    static func entryRecordSize(_ entry: Entry) -> Int {
        recordHeaderSize + 17 + entry.data.count
    }

    static let hardStateRecordSize = recordHeaderSize + 25

    static func appendEntryRecord(_ entry: Entry, to buffer: inout [UInt8]) {
        var payload: [UInt8] = []
        payload.reserveCapacity(17 + entry.data.count)
        payload.appendLittleEndian(entry.term)
        payload.appendLittleEndian(entry.index)
        payload.append(entry.kind.rawValue)
        payload.append(contentsOf: entry.data)
        appendRecord(.entry, payload, to: &buffer)
    }

    static func appendHardStateRecord(_ state: HardState, to buffer: inout [UInt8]) {
        var payload: [UInt8] = []
        payload.appendLittleEndian(state.term)
        payload.appendLittleEndian(state.vote?.rawValue ?? 0)
        payload.append(state.vote == nil ? 0 : 1)
        payload.appendLittleEndian(state.commit)
        appendRecord(.hardState, payload, to: &buffer)
    }

    static func appendResetRecord(index: LogIndex, term: Term, to buffer: inout [UInt8]) {
        var payload: [UInt8] = []
        payload.appendLittleEndian(index)
        payload.appendLittleEndian(term)
        appendRecord(.reset, payload, to: &buffer)
    }

    static let compactionRecordSize = recordHeaderSize + 32

    static func appendCompactionRecord(
        index: LogIndex,
        term: Term,
        start: LogPosition,
        to buffer: inout [UInt8]
    ) {
        var payload: [UInt8] = []
        payload.appendLittleEndian(index)
        payload.appendLittleEndian(term)
        payload.appendLittleEndian(start.segment)
        payload.appendLittleEndian(UInt64(start.offset))
        appendRecord(.compaction, payload, to: &buffer)
    }

    private static func appendRecord(_ type: RecordType, _ payload: [UInt8], to buffer: inout [UInt8]) {
        let start = buffer.count
        buffer.appendLittleEndian(UInt32(payload.count))
        buffer.append(contentsOf: [type.rawValue, 0, 0, 0])
        buffer.appendLittleEndian(CRC32C.checksum(buffer[start...]))
        buffer.appendLittleEndian(CRC32C.checksum(payload))
        buffer.append(contentsOf: payload)
    }

    static func snapshotFileSize(_ snapshot: Snapshot) -> Int {
        snapshotHeaderSize(snapshot.metadata) + snapshot.data.count + 4
    }

    static func snapshotHeaderSize(_ metadata: SnapshotMetadata) -> Int {
        36 + metadata.membership.encoded.count
    }

    /// Everything in a snapshot file before its data, the data's length included.
    static func snapshotHeader(_ metadata: SnapshotMetadata, dataCount: Int) -> [UInt8] {
        var bytes = snapshotMagic
        bytes.appendLittleEndian(snapshotVersion)
        bytes.appendLittleEndian(UInt16(0))
        bytes.appendLittleEndian(metadata.index)
        bytes.appendLittleEndian(metadata.term)
        let membership = metadata.membership.encoded
        bytes.appendLittleEndian(UInt32(membership.count))
        bytes.append(contentsOf: membership)
        bytes.appendLittleEndian(UInt64(dataCount))
        return bytes
    }

    static func snapshotFile(_ snapshot: Snapshot) throws -> [UInt8] {
        var bytes = snapshotHeader(snapshot.metadata, dataCount: snapshot.data.count)
        bytes.reserveCapacity(snapshotFileSize(snapshot))
        bytes.append(contentsOf: try snapshot.data.readAll())
        bytes.appendLittleEndian(CRC32C.checksum(bytes))
        return bytes
    }

    // MARK: Decoding

    /// The decoded form of one record.
    enum Record {
        case entry(Entry)
        case hardState(HardState)
        case reset(index: LogIndex, term: Term)
        case compaction(index: LogIndex, term: Term, start: LogPosition)
    }

    /// What is at one offset of a segment.
    enum Scan {
        /// A valid record of `size` bytes.
        case record(Record, size: Int)
        /// Fewer bytes remain than the record needs (its header, or its payload if the header is valid).
        case truncated
        /// The header or payload checksum fails, or a valid header carries an impossible value.
        /// `end` is where the record ends according to its (valid) header, if the payload is what failed.
        case damaged(String, end: Int?)
    }

    static func scanRecord(_ bytes: [UInt8], at offset: Int) -> Scan {
        guard bytes.count - offset >= recordHeaderSize else {
            return .truncated
        }
        guard CRC32C.checksum(bytes[offset..<offset + 8]) == bytes.littleEndian(UInt32.self, at: offset + 8) else {
            return .damaged("record header checksum mismatch", end: nil)
        }
        let length = Int(bytes.littleEndian(UInt32.self, at: offset))
        guard length <= maxPayloadSize else {
            return .damaged("record length \(length) exceeds the limit", end: nil)
        }
        guard bytes.count - offset - recordHeaderSize >= length else {
            return .truncated
        }
        let payloadStart = offset + recordHeaderSize
        let payload = bytes[payloadStart..<payloadStart + length]
        guard CRC32C.checksum(payload) == bytes.littleEndian(UInt32.self, at: offset + 12) else {
            return .damaged("record payload checksum mismatch", end: payloadStart + length)
        }
        guard let record = decodePayload(type: bytes[offset + 4], payload) else {
            return .damaged("record of type \(bytes[offset + 4]) has an invalid payload", end: nil)
        }
        return .record(record, size: recordHeaderSize + length)
    }

    private static func decodePayload(type: UInt8, _ payload: ArraySlice<UInt8>) -> Record? {
        let start = payload.startIndex
        switch RecordType(rawValue: type) {
        case .entry:
            guard payload.count >= 17, let kind = Entry.Kind(rawValue: payload[start + 16]) else {
                return nil
            }
            return .entry(
                Entry(
                    term: payload.littleEndian(UInt64.self, at: start),
                    index: payload.littleEndian(UInt64.self, at: start + 8),
                    kind: kind,
                    data: Array(payload[(start + 17)...])
                )
            )
        case .hardState:
            guard payload.count == 25, payload[start + 16] <= 1 else {
                return nil
            }
            let vote = payload[start + 16] == 1 ? NodeID(payload.littleEndian(UInt64.self, at: start + 8)) : nil
            return .hardState(
                HardState(
                    term: payload.littleEndian(UInt64.self, at: start),
                    vote: vote,
                    commit: payload.littleEndian(UInt64.self, at: start + 17)
                )
            )
        case .reset:
            guard payload.count == 16 else {
                return nil
            }
            return .reset(
                index: payload.littleEndian(UInt64.self, at: start),
                term: payload.littleEndian(UInt64.self, at: start + 8)
            )
        case .compaction:
            guard payload.count == 32 else {
                return nil
            }
            let offset = payload.littleEndian(UInt64.self, at: start + 24)
            guard offset <= UInt64(Int64.max) else {
                return nil
            }
            return .compaction(
                index: payload.littleEndian(UInt64.self, at: start),
                term: payload.littleEndian(UInt64.self, at: start + 8),
                start: LogPosition(segment: payload.littleEndian(UInt64.self, at: start + 16), offset: Int64(offset))
            )
        case nil:
            return nil
        }
    }

    /// Checks a segment header; returns what is wrong with it, or nil.
    static func segmentHeaderProblem(_ bytes: [UInt8], expectedSeq: UInt64) -> String? {
        guard bytes.count >= segmentHeaderSize else {
            return "segment header is incomplete (\(bytes.count) bytes)"
        }
        guard Array(bytes[0..<4]) == segmentMagic,
            CRC32C.checksum(bytes[0..<16]) == bytes.littleEndian(UInt32.self, at: 16)
        else {
            return "segment header is damaged"
        }
        let version = bytes.littleEndian(UInt16.self, at: 4)
        guard version == Format.version else {
            return "segment format version \(version) is not supported (expected \(Format.version))"
        }
        let seq = bytes.littleEndian(UInt64.self, at: 8)
        guard seq == expectedSeq else {
            return "segment header says sequence \(seq) but the file name says \(expectedSeq)"
        }
        return nil
    }

    /// Decodes a snapshot file; the error text says what is wrong and where (byte offset).
    /// The file's array becomes the snapshot's data in place, so a large file is held once.
    static func decodeSnapshot(_ bytes: consuming [UInt8]) -> Result<Snapshot, SnapshotProblem> {
        guard bytes.count >= 40 else {
            return .failure(SnapshotProblem(message: "snapshot file is too short (\(bytes.count) bytes)", offset: 0))
        }
        let crcOffset = bytes.count - 4
        guard CRC32C.checksum(bytes[0..<crcOffset]) == bytes.littleEndian(UInt32.self, at: crcOffset) else {
            return .failure(SnapshotProblem(message: "snapshot checksum mismatch", offset: Int64(crcOffset)))
        }
        switch decodeSnapshotHeader(bytes, crcOffset: crcOffset) {
        case .failure(let problem):
            return .failure(problem)
        case .success(let (metadata, dataStart)):
            bytes.removeSubrange(crcOffset...)
            bytes.removeSubrange(0..<dataStart)
            return .success(Snapshot(metadata: metadata, data: bytes))
        }
    }

    /// How many bytes of a snapshot file ``decodeSnapshotHeader(_:crcOffset:)`` needs, given its
    /// first 28 bytes: enough for either version's membership.
    static func snapshotHeaderLimit(_ first28: [UInt8], crcOffset: Int) -> Int {
        min(crcOffset, 36 + 8 * Int(first28.littleEndian(UInt32.self, at: 24)))
    }

    /// Decodes the header of a snapshot file whose checksum is at `crcOffset` (and was checked)
    /// from `prefix`, its first ``snapshotHeaderLimit(_:crcOffset:)`` bytes at least: the
    /// metadata and where the data starts (it ends at `crcOffset`).
    static func decodeSnapshotHeader(
        _ prefix: [UInt8],
        crcOffset: Int
    ) -> Result<(SnapshotMetadata, dataStart: Int), SnapshotProblem> {
        guard Array(prefix[0..<4]) == snapshotMagic else {
            return .failure(SnapshotProblem(message: "not a snapshot file (bad magic)", offset: 0))
        }
        let version = prefix.littleEndian(UInt16.self, at: 4)
        guard version == 1 || version == snapshotVersion else {
            return .failure(SnapshotProblem(message: "snapshot format version \(version) is not supported", offset: 4))
        }
        let index = prefix.littleEndian(UInt64.self, at: 8)
        let term = prefix.littleEndian(UInt64.self, at: 16)
        let count = Int(prefix.littleEndian(UInt32.self, at: 24))
        let membership: Membership
        let dataLengthOffset: Int
        if version == 1 {
            guard count <= (crcOffset - 36) / 8 else {
                return .failure(SnapshotProblem(message: "voter count \(count) does not fit the file", offset: 24))
            }
            membership = Membership(
                voters: (0..<count).map { NodeID(prefix.littleEndian(UInt64.self, at: 28 + 8 * $0)) }
            )
            dataLengthOffset = 28 + 8 * count
        } else {
            guard count <= crcOffset - 36 else {
                return .failure(
                    SnapshotProblem(message: "membership length \(count) does not fit the file", offset: 24)
                )
            }
            do {
                membership = try Membership(decoding: prefix[28..<(28 + count)])
            } catch {
                return .failure(SnapshotProblem(message: error.message, offset: 28))
            }
            dataLengthOffset = 28 + count
        }
        let dataLength = prefix.littleEndian(UInt64.self, at: dataLengthOffset)
        let dataStart = dataLengthOffset + 8
        guard dataLength == UInt64(crcOffset - dataStart) else {
            return .failure(
                SnapshotProblem(
                    message: "data length \(dataLength) does not match the file",
                    offset: Int64(dataLengthOffset)
                )
            )
        }
        return .success((SnapshotMetadata(index: index, term: term, membership: membership), dataStart))
    }

    struct SnapshotProblem: Error {
        var message: String
        var offset: Int64
    }
}

extension [UInt8] {
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}

extension Collection<UInt8> where Index == Int {
    /// The little-endian integer at `offset` (an index of this collection).
    func littleEndian<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        var value: T = 0
        for byte in 0..<MemoryLayout<T>.size {
            value |= T(self[offset + byte]) << (8 * byte)
        }
        return value
    }
}

/// The snapshot file format (`RSNP`, checksummed) as a standalone file: what `raftctl snapshot
/// save` writes and `rafthost restore` reads.
public enum SnapshotFile {
    /// Why bytes are not a snapshot file, and where.
    public struct Problem: Error, Sendable, CustomStringConvertible {
        public var message: String
        public var offset: Int64
        public var description: String { "\(message) (at byte \(offset))" }
    }

    /// The whole file as one array; throws only if the snapshot's data cannot be read.
    public static func encode(_ snapshot: Snapshot) throws -> [UInt8] {
        try Format.snapshotFile(snapshot)
    }

    /// Decodes and checks a whole file: a truncated or damaged one is refused with the offset.
    public static func decode(_ bytes: [UInt8]) throws(Problem) -> Snapshot {
        switch Format.decodeSnapshot(bytes) {
        case .success(let snapshot):
            return snapshot
        case .failure(let problem):
            throw Problem(message: problem.message, offset: problem.offset)
        }
    }

    /// Writes the file of a snapshot with `metadata` at `path`, whose data `write` streams to
    /// its sink piece by piece, and syncs it: a backup of any size, never held as one array.
    /// Returns the file's size.
    public static func write(
        _ metadata: SnapshotMetadata,
        to path: String,
        data write: (_ sink: ([UInt8]) throws -> Void) throws -> Void
    ) throws -> Int {
        let file = try Store.writeSnapshotFile(metadata, to: path, options: DiskStorage.Options(), data: write)
        return Format.snapshotHeaderSize(metadata) + file.count + 4
    }

    /// Opens the file at `path` and checks it in pieces (its checksum, then its header), never
    /// whole; the snapshot's data is read from the file when needed, so installing it into a
    /// storage streams it too. A truncated or damaged file is a `corruption` error with the
    /// path and the offset.
    public static func open(_ path: String) throws(StorageError) -> Snapshot {
        try Store.readSnapshot(path, advice: nil)
    }

    /// The size of the file of `snapshot`: header, data and checksum.
    public static func size(of snapshot: Snapshot) -> Int {
        Format.snapshotFileSize(snapshot)
    }
}
