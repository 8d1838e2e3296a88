import RaftCore
import RaftReplica
import StateMachineAPI
import SimulationThread
import Testing

@Suite("Client protocol", .onSimulationThread)
struct ClientProtocolTests {
    static let requests: [ClientRequest] = [
        .command(Replica.ClientCommand(clientID: 7, sequence: 1, command: [1, 2, 3])),
        .command(Replica.ClientCommand(clientID: .max, sequence: .max, command: [])),
        .query([9, 9], consistency: .linearizable),
        .query([], consistency: .stale),
    ]

    static let responses: [ClientResponse] = [
        .ok([1, 2]),
        .ok([]),
        .error(ReplicaError(.notLeader, "not the leader", leaderHint: NodeID(3))),
        .error(ReplicaError(.sessionExpired, "gone")),
        .unknownGroup("no group 'x'"),
    ]

    @Test("requests round-trip", arguments: requests)
    func requestRoundTrip(_ request: ClientRequest) throws {
        #expect(try ClientRequest(decoding: request.encoded()) == request)
    }

    @Test("responses round-trip", arguments: responses)
    func responseRoundTrip(_ response: ClientResponse) throws {
        #expect(try ClientResponse(decoding: response.encoded()) == response)
    }

    @Test("every truncation of a valid request is a decoding error")
    func truncatedRequestsAreErrors() {
        for request in Self.requests {
            let bytes = request.encoded()
            for cut in 0..<bytes.count {
                #expect(throws: BinaryDecodingError.self) { try ClientRequest(decoding: Array(bytes[..<cut])) }
            }
        }
    }

    @Test(
        "each error code says whether and where a client retries, and its HTTP status",
        arguments: [
            (ReplicaError.Code.notLeader, ReplicaError.Code.Retry.anotherNode, 503),
            (.leaderChanged, .sameNodeAfterPause, 503),
            (.overloaded, .sameNodeAfterPause, 503),
            (.sessionExpired, nil, 409),
            (.invalidRequest, nil, 400),
        ] as [(ReplicaError.Code, ReplicaError.Code.Retry?, Int)]
    )
    func errorCodeHandling(code: ReplicaError.Code, retry: ReplicaError.Code.Retry?, httpStatus: Int) {
        #expect(code.retry == retry)
        #expect(code.isRetryable == (retry != nil))
        #expect(code.httpStatus == httpStatus)
    }

    @Test("unknown versions and kinds are refused")
    func unknownTagsAreErrors() {
        #expect(throws: BinaryDecodingError.self) { try ClientRequest(decoding: [2, 1]) }
        #expect(throws: BinaryDecodingError.self) { try ClientRequest(decoding: [1, 9]) }
        #expect(throws: BinaryDecodingError.self) { try ClientResponse(decoding: [1, 1, 200, 0, 0]) }
    }
}
