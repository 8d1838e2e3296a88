import KeyValueStore
public import RaftClient
import StateMachineAPI

/// The typed client of a ``KeyValueStore`` group: Get, Put, Append, Delete and
/// compare-and-swap over a ``RaftClient``.
///
/// Every call inherits the ``RaftClient`` rules: it keeps trying, following leader hints and
/// rotating through the nodes, until it succeeds or its deadline passes; writes are applied
/// exactly once.
///
/// ```swift
/// let cluster = try ClusterConfiguration.load(path: "cluster.yaml")
/// let kv = KeyValueClient(RaftClient(cluster: cluster, group: "kv"))
/// try await kv.put("greeting", value: "hello")
/// let value = try await kv.get("greeting")  // "hello"; nil for a missing key
/// await kv.close()
/// ```
public struct KeyValueClient: Sendable {
    /// The client underneath, for its id and settings.
    public let raft: RaftClient

    /// Wraps a client of a group whose state machine is ``KeyValueStore``.
    public init(_ raft: RaftClient) {
        self.raft = raft
    }

    /// The value of `key`, or `nil` when it is missing (`ErrNoKey`); an empty value is `""`.
    ///
    /// - Parameter consistency: `.linearizable` (default) sees every write acknowledged before
    ///   the call; `.stale` reads the node the client tries, possibly behind.
    public func get(
        _ key: String,
        consistency: RaftClient.ReadConsistency = .linearizable,
        deadline: ContinuousClock.Instant? = nil
    ) async throws -> String? {
        let bytes = try await raft.query(
            KeyValueStore.Query.get(key: key).encoded(), consistency: consistency, deadline: deadline)
        switch try Self.decode(bytes) {
        case .value(let value): return value
        case .noKey: return nil
        case let other: throw Self.unexpected(other, for: "get")
        }
    }

    /// Sets `key` to `value`.
    public func put(_ key: String, value: String, deadline: ContinuousClock.Instant? = nil) async throws {
        try await expectOK(.put(key: key, value: value), deadline: deadline)
    }

    /// Appends `value` to the value of `key`; a missing key acts as a put.
    public func append(_ key: String, value: String, deadline: ContinuousClock.Instant? = nil) async throws {
        try await expectOK(.append(key: key, value: value), deadline: deadline)
    }

    /// Removes `key`.
    ///
    /// - Returns: whether the key existed.
    @discardableResult
    public func delete(_ key: String, deadline: ContinuousClock.Instant? = nil) async throws -> Bool {
        switch try await submit(.delete(key: key), deadline: deadline) {
        case .ok: return true
        case .noKey: return false
        case let other: throw Self.unexpected(other, for: "delete")
        }
    }

    /// Sets `key` to `new` if its value is `expected` (`nil`: only if the key is missing).
    ///
    /// - Returns: whether it stored `new`, and the key's value after the operation (`nil` when
    ///   missing).
    public func compareAndSwap(
        _ key: String,
        expected: String?,
        new: String,
        deadline: ContinuousClock.Instant? = nil
    ) async throws -> (swapped: Bool, current: String?) {
        switch try await submit(.compareAndSwap(key: key, expected: expected, new: new), deadline: deadline) {
        case .compareAndSwap(let swapped, let current): return (swapped, current)
        case let other: throw Self.unexpected(other, for: "compareAndSwap")
        }
    }

    /// Closes the connections of the client underneath.
    public func close() async {
        await raft.close()
    }

    private func expectOK(_ command: KeyValueStore.Command, deadline: ContinuousClock.Instant?) async throws {
        let response = try await submit(command, deadline: deadline)
        guard response == .ok else { throw Self.unexpected(response, for: "\(command)") }
    }

    private func submit(
        _ command: KeyValueStore.Command,
        deadline: ContinuousClock.Instant?
    ) async throws -> KeyValueStore.Response {
        try Self.decode(try await raft.submit(command.encoded(), deadline: deadline))
    }

    private static func decode(_ bytes: [UInt8]) throws(RaftClientError) -> KeyValueStore.Response {
        do {
            return try KeyValueStore.Response(decoding: bytes)
        } catch {
            throw RaftClientError(
                .invalidResponse, "not a KeyValueStore response; is the group a KeyValueStore?", cause: error)
        }
    }

    private static func unexpected(_ response: KeyValueStore.Response, for operation: String) -> RaftClientError {
        RaftClientError(.invalidResponse, "unexpected answer \(response) to \(operation)")
    }
}
