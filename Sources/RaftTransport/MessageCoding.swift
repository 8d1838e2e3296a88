package import RaftCore

// Wire layout of a `Message` (protocol version 2):
//
//     from u64 | to u64 | term u64 | payload tag u8 | payload fields
//
// Tags are fixed forever within a protocol version; a new payload kind needs a new version.
//
// Tag 11 (leadership transfer) was reserved from the start; it is followed by a kind byte:
//
//     11 | 0                                      timeoutNow
//     11 | 1 | lastLogIndex u64 | lastLogTerm u64  vote with `VoteRequest.transfer` set
//     11 | 2                                      removed: the receiver left the group
//
// Version 2 (membership changes): entries may be of kind 2 (membership), and a snapshot's
// metadata carries its whole membership (`Membership.encoded`, length-prefixed) where
// version 1 had a voter list. Version-1 peers are refused at the handshake.

private enum PayloadTag: UInt8 {
    case preVote = 1
    case preVoteResponse = 2
    case vote = 3
    case voteResponse = 4
    case append = 5
    case appendResponse = 6
    case heartbeat = 7
    case heartbeatResponse = 8
    case installSnapshot = 9
    case installSnapshotResponse = 10
    /// Followed by a `TransferKind` byte.
    case transfer = 11
}

/// The kinds of message under `PayloadTag.transfer`.
private enum TransferKind: UInt8 {
    case timeoutNow = 0
    case vote = 1
    case removed = 2
    case quiescingHeartbeat = 3
}

/// Smallest encoding of an `Entry`: term, index, kind and an empty data length.
private let minimumEntrySize = 8 + 8 + 1 + 4

extension Message {
    /// Appends this message's version-1 encoding to `output`.
    package func encode<Output: WireOutput>(into output: inout Output) {
        output.writeWireInteger(from.rawValue)
        output.writeWireInteger(to.rawValue)
        output.writeWireInteger(term)
        switch payload {
        case .preVote(let request):
            output.writeWireByte(PayloadTag.preVote.rawValue)
            request.encode(into: &output)
        case .preVoteResponse(let response):
            output.writeWireByte(PayloadTag.preVoteResponse.rawValue)
            output.writeBool(response.granted)
        case .vote(let request) where request.transfer:
            output.writeWireByte(PayloadTag.transfer.rawValue)
            output.writeWireByte(TransferKind.vote.rawValue)
            request.encode(into: &output)
        case .vote(let request):
            output.writeWireByte(PayloadTag.vote.rawValue)
            request.encode(into: &output)
        case .voteResponse(let response):
            output.writeWireByte(PayloadTag.voteResponse.rawValue)
            output.writeBool(response.granted)
        case .append(let request):
            output.writeWireByte(PayloadTag.append.rawValue)
            output.writeWireInteger(request.prevLogIndex)
            output.writeWireInteger(request.prevLogTerm)
            output.writeWireInteger(request.leaderCommit)
            output.writeCount(request.entries.count)
            for entry in request.entries {
                output.writeWireInteger(entry.term)
                output.writeWireInteger(entry.index)
                output.writeWireByte(entry.kind.rawValue)
                output.writeLengthPrefixed(entry.data)
            }
        case .appendResponse(let response):
            output.writeWireByte(PayloadTag.appendResponse.rawValue)
            output.writeBool(response.success)
            output.writeWireInteger(response.matchIndex)
            output.writeWireInteger(response.conflictIndex)
            if let conflictTerm = response.conflictTerm {
                output.writeWireByte(1)
                output.writeWireInteger(conflictTerm)
            } else {
                output.writeWireByte(0)
            }
        case .heartbeat(let heartbeat):
            if heartbeat.quiesce {
                output.writeWireByte(PayloadTag.transfer.rawValue)
                output.writeWireByte(TransferKind.quiescingHeartbeat.rawValue)
            } else {
                output.writeWireByte(PayloadTag.heartbeat.rawValue)
            }
            output.writeWireInteger(heartbeat.commit)
            output.writeWireInteger(heartbeat.readRound)
        case .heartbeatResponse(let response):
            output.writeWireByte(PayloadTag.heartbeatResponse.rawValue)
            output.writeWireInteger(response.readRound)
        case .installSnapshot(let chunk):
            output.writeWireByte(PayloadTag.installSnapshot.rawValue)
            output.writeWireInteger(chunk.metadata.index)
            output.writeWireInteger(chunk.metadata.term)
            output.writeLengthPrefixed(chunk.metadata.membership.encoded)
            output.writeWireInteger(chunk.offset)
            output.writeWireInteger(chunk.totalSize)
            output.writeLengthPrefixed(chunk.data)
        case .installSnapshotResponse(let response):
            output.writeWireByte(PayloadTag.installSnapshotResponse.rawValue)
            output.writeWireInteger(response.snapshotIndex)
            output.writeWireInteger(response.snapshotTerm)
            output.writeWireInteger(response.nextOffset)
            output.writeBool(response.done)
        case .timeoutNow:
            output.writeWireByte(PayloadTag.transfer.rawValue)
            output.writeWireByte(TransferKind.timeoutNow.rawValue)
        case .removed:
            output.writeWireByte(PayloadTag.transfer.rawValue)
            output.writeWireByte(TransferKind.removed.rawValue)
        }
    }

    /// Reads one version-2 message from `reader`, leaving it just after the message.
    package init(from reader: inout WireReader) throws(WireError) {
        let from = NodeID(try reader.readInteger(UInt64.self, "message sender"))
        let to = NodeID(try reader.readInteger(UInt64.self, "message receiver"))
        let term = try reader.readInteger(Term.self, "message term")
        let tagOffset = reader.position
        let rawTag = try reader.readByte("payload tag")
        guard let tag = PayloadTag(rawValue: rawTag) else {
            throw WireError(.badTag, "payload tag \(rawTag) is unknown", offset: tagOffset)
        }
        let payload: Payload
        switch tag {
        case .preVote:
            payload = .preVote(try VoteRequest(from: &reader))
        case .preVoteResponse:
            payload = .preVoteResponse(VoteResponse(granted: try reader.readBool("vote granted")))
        case .vote:
            payload = .vote(try VoteRequest(from: &reader))
        case .voteResponse:
            payload = .voteResponse(VoteResponse(granted: try reader.readBool("vote granted")))
        case .append:
            let prevLogIndex = try reader.readInteger(LogIndex.self, "prevLogIndex")
            let prevLogTerm = try reader.readInteger(Term.self, "prevLogTerm")
            let leaderCommit = try reader.readInteger(LogIndex.self, "leaderCommit")
            let count = try reader.readCount(minimumElementSize: minimumEntrySize, "entries")
            var entries: [Entry] = []
            entries.reserveCapacity(count)
            for _ in 0..<count {
                entries.append(try Entry(from: &reader))
            }
            payload = .append(
                AppendRequest(
                    prevLogIndex: prevLogIndex,
                    prevLogTerm: prevLogTerm,
                    entries: entries,
                    leaderCommit: leaderCommit
                )
            )
        case .appendResponse:
            let success = try reader.readBool("append success")
            let matchIndex = try reader.readInteger(LogIndex.self, "matchIndex")
            let conflictIndex = try reader.readInteger(LogIndex.self, "conflictIndex")
            let flagOffset = reader.position
            let conflictTerm: Term?
            switch try reader.readByte("conflictTerm presence") {
            case 0: conflictTerm = nil
            case 1: conflictTerm = try reader.readInteger(Term.self, "conflictTerm")
            case let other:
                throw WireError(.badTag, "conflictTerm presence is \(other)", offset: flagOffset)
            }
            payload = .appendResponse(
                AppendResponse(
                    success: success,
                    matchIndex: matchIndex,
                    conflictIndex: conflictIndex,
                    conflictTerm: conflictTerm
                )
            )
        case .heartbeat:
            payload = .heartbeat(try Heartbeat(from: &reader, quiesce: false))
        case .heartbeatResponse:
            payload = .heartbeatResponse(
                HeartbeatResponse(readRound: try reader.readInteger(UInt64.self, "heartbeat response readRound"))
            )
        case .installSnapshot:
            let index = try reader.readInteger(LogIndex.self, "snapshot index")
            let snapshotTerm = try reader.readInteger(Term.self, "snapshot term")
            let membershipOffset = reader.position
            let membershipBytes = try reader.readLengthPrefixed("snapshot membership")
            let membership: Membership
            do {
                membership = try Membership(decoding: membershipBytes)
            } catch {
                throw WireError(.invalidMembership, error.message, offset: membershipOffset)
            }
            let offset = try reader.readInteger(UInt64.self, "snapshot chunk offset")
            let totalSize = try reader.readInteger(UInt64.self, "snapshot total size")
            let data = try reader.readLengthPrefixed("snapshot chunk data")
            payload = .installSnapshot(
                SnapshotChunk(
                    metadata: SnapshotMetadata(index: index, term: snapshotTerm, membership: membership),
                    offset: offset,
                    totalSize: totalSize,
                    data: data
                )
            )
        case .installSnapshotResponse:
            payload = .installSnapshotResponse(
                SnapshotChunkResponse(
                    snapshotIndex: try reader.readInteger(LogIndex.self, "snapshot response index"),
                    snapshotTerm: try reader.readInteger(Term.self, "snapshot response term"),
                    nextOffset: try reader.readInteger(UInt64.self, "snapshot response nextOffset"),
                    done: try reader.readBool("snapshot response done")
                )
            )
        case .transfer:
            let kindOffset = reader.position
            let rawKind = try reader.readByte("transfer kind")
            switch TransferKind(rawValue: rawKind) {
            case .timeoutNow:
                payload = .timeoutNow
            case .vote:
                var request = try VoteRequest(from: &reader)
                request.transfer = true
                payload = .vote(request)
            case .removed:
                payload = .removed
            case .quiescingHeartbeat:
                payload = .heartbeat(try Heartbeat(from: &reader, quiesce: true))
            case nil:
                throw WireError(.badTag, "transfer kind \(rawKind) is unknown", offset: kindOffset)
            }
        }
        self.init(from: from, to: to, term: term, payload: payload)
    }
}

extension Heartbeat {
    fileprivate init(from reader: inout WireReader, quiesce: Bool) throws(WireError) {
        self.init(
            commit: try reader.readInteger(LogIndex.self, "heartbeat commit"),
            readRound: try reader.readInteger(UInt64.self, "heartbeat readRound"),
            quiesce: quiesce
        )
    }
}

extension VoteRequest {
    fileprivate func encode<Output: WireOutput>(into output: inout Output) {
        output.writeWireInteger(lastLogIndex)
        output.writeWireInteger(lastLogTerm)
    }

    fileprivate init(from reader: inout WireReader) throws(WireError) {
        self.init(
            lastLogIndex: try reader.readInteger(LogIndex.self, "lastLogIndex"),
            lastLogTerm: try reader.readInteger(Term.self, "lastLogTerm")
        )
    }
}

extension Entry {
    fileprivate init(from reader: inout WireReader) throws(WireError) {
        let term = try reader.readInteger(Term.self, "entry term")
        let index = try reader.readInteger(LogIndex.self, "entry index")
        let kindOffset = reader.position
        let rawKind = try reader.readByte("entry kind")
        guard let kind = Kind(rawValue: rawKind) else {
            throw WireError(.badTag, "entry kind \(rawKind) is unknown", offset: kindOffset)
        }
        self.init(term: term, index: index, kind: kind, data: try reader.readLengthPrefixed("entry data"))
    }
}
