import KeyValueStore
import RaftCore
import RaftReplica
import RaftStorage
import StateMachineAPI
import Testing

/// A one-voter key/value replica that elected itself (term 1), and its storage: where the
/// driver step and restore tests start.
func singleNodeLeader() throws -> (Replica, MemoryStorage) {
    var replica = try Replica(
        configuration: RaftConfiguration(id: NodeID(1), voters: [NodeID(1)]),
        machine: AnyStateMachine(KeyValueStore()),
        snapshotPolicy: .never
    )
    let storage = MemoryStorage()
    for _ in 0..<30 { replica.tick() }
    _ = try replica.drive(storage: storage)
    try #require(replica.engine.role == .leader && replica.engine.term == 1)
    return (replica, storage)
}
