public import KeyValueStore

/// The sequential specification of ``KeyValueStore`` for ``LinearizabilityChecker``, one
/// partition per key.
///
/// It restates the service's semantics independently of the plugin's code, so a bug in the
/// plugin shows up as a linearizability failure rather than being copied into the model.
public struct KeyValueModel: LinearizabilityModel {
    /// A client operation on the store: a command through the log or a query.
    public enum Input: Sendable, Hashable, CustomStringConvertible {
        case command(KeyValueStore.Command)
        case query(KeyValueStore.Query)

        public static func get(_ key: String) -> Input { .query(.get(key: key)) }
        public static func put(_ key: String, _ value: String) -> Input { .command(.put(key: key, value: value)) }
        public static func append(_ key: String, _ value: String) -> Input {
            .command(.append(key: key, value: value))
        }
        public static func delete(_ key: String) -> Input { .command(.delete(key: key)) }
        public static func compareAndSwap(_ key: String, expected: String?, new: String) -> Input {
            .command(.compareAndSwap(key: key, expected: expected, new: new))
        }

        /// The key the operation is about: the partition it belongs to.
        public var key: String {
            switch self {
            case .command(let command): command.key
            case .query(let query): query.key
            }
        }

        public var description: String {
            switch self {
            case .command(.put(let key, let value)): "put(\(key), \(value.debugDescription))"
            case .command(.append(let key, let value)): "append(\(key), \(value.debugDescription))"
            case .command(.delete(let key)): "delete(\(key))"
            case .command(.compareAndSwap(let key, let expected, let new)):
                "cas(\(key), expected: \(expected?.debugDescription ?? "nil"), new: \(new.debugDescription))"
            case .query(.get(let key)): "get(\(key))"
            }
        }
    }

    public typealias Output = KeyValueStore.Response

    /// The value of the partition's key, `nil` when missing.
    public typealias State = String?

    public init() {}

    public var initialState: String? { nil }

    public func partition(of input: Input) -> String { input.key }

    public func isReadOnly(_ input: Input) -> Bool {
        if case .query = input { true } else { false }
    }

    public func step(_ state: String?, input: Input, output: KeyValueStore.Response?) -> [String?] {
        let expected: KeyValueStore.Response
        let next: String?
        switch input {
        case .query(.get):
            expected = state.map(KeyValueStore.Response.value) ?? .noKey
            next = state
        case .command(.put(_, let value)):
            expected = .ok
            next = value
        case .command(.append(_, let value)):
            expected = .ok
            next = (state ?? "") + value
        case .command(.delete):
            expected = state == nil ? .noKey : .ok
            next = nil
        case .command(.compareAndSwap(_, let expectedValue, let new)):
            let swapped = state == expectedValue
            next = swapped ? new : state
            expected = .compareAndSwap(swapped: swapped, current: next)
        }
        guard output == nil || output == expected else {
            return []
        }
        return [next]
    }
}
