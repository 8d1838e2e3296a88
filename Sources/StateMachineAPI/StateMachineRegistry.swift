/// The state machines a host can serve, by ``StateMachine/name``.
///
/// ```swift
/// var registry = StateMachineRegistry()
/// try registry.register(KeyValueStore.self)
/// try registry.register(LockService.self)
/// let machine = try registry.make(named: group.stateMachine)   // from cluster.yaml
/// ```
public struct StateMachineRegistry: Sendable {
    private var types: [String: any StateMachine.Type] = [:]

    /// An empty registry.
    public init() {}

    /// A registry holding `types`; throws if two of them share a name.
    public init(_ types: [any StateMachine.Type]) throws(StateMachineRegistryError) {
        for type in types {
            try register(type)
        }
    }

    /// The registered names, sorted.
    public var names: [String] { types.keys.sorted() }

    /// Adds `type` under its ``StateMachine/name``. Registering the same type again is a no-op;
    /// another type with the same name throws ``StateMachineRegistryError/Code/duplicateName``.
    public mutating func register(
        _ type: any StateMachine.Type,
        file: String = #fileID,
        line: Int = #line
    ) throws(StateMachineRegistryError) {
        if let existing = types[type.name] {
            guard existing == type else {
                throw StateMachineRegistryError(
                    code: .duplicateName,
                    message: "\(type) and \(existing) are both named \"\(type.name)\"",
                    knownNames: names,
                    location: ErrorSourceLocation(file: file, line: line)
                )
            }
            return
        }
        types[type.name] = type
    }

    /// The type registered under `name`, if any.
    public func type(named name: String) -> (any StateMachine.Type)? {
        types[name]
    }

    /// The empty state of the state machine registered under `name`. Throws
    /// ``StateMachineRegistryError/Code/unknownName`` with the known names in its message.
    public func make(
        named name: String,
        file: String = #fileID,
        line: Int = #line
    ) throws(StateMachineRegistryError) -> AnyStateMachine {
        guard let type = types[name] else {
            let known = names
            let list = known.isEmpty ? "none registered" : "known: " + known.joined(separator: ", ")
            throw StateMachineRegistryError(
                code: .unknownName,
                message: "no state machine named \"\(name)\" (\(list))",
                knownNames: known,
                location: ErrorSourceLocation(file: file, line: line)
            )
        }
        return AnyStateMachine(emptyOf: type)
    }
}
