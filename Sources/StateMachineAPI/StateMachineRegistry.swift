/// The state machines a host can serve, by ``StateMachine/name``.
///
/// ```swift
/// var registry = StateMachineRegistry()
/// try registry.register(KeyValueStore.self)
/// try registry.register(LockService.self)
/// let machine = try registry.make(named: group.stateMachine)   // from cluster.yaml
/// ```
public struct StateMachineRegistry: Sendable {
    private enum Entry: Sendable {
        case type(any StateMachine.Type)
        /// A plugin loaded at run time: `make` gives a fresh, empty instance per group.
        case loaded(description: String, make: @Sendable () throws -> AnyStateMachine)

        var description: String {
            switch self {
            case .type(let type): "\(type)"
            case .loaded(let description, _): description
            }
        }
    }

    private var types: [String: Entry] = [:]

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
            guard case .type(let existingType) = existing, existingType == type else {
                throw StateMachineRegistryError(
                    code: .duplicateName,
                    message: "\(type) and \(existing.description) are both named \"\(type.name)\"",
                    knownNames: names,
                    location: ErrorSourceLocation(file: file, line: line)
                )
            }
            return
        }
        types[type.name] = .type(type)
    }

    /// Adds a plugin loaded at run time under `name`.
    ///
    /// - Parameters:
    ///   - description: where it comes from (`libcounter.so`), for errors.
    ///   - make: a fresh, empty instance; called once per group that runs the plugin.
    public mutating func register(
        name: String,
        description: String,
        make: @escaping @Sendable () throws -> AnyStateMachine,
        file: String = #fileID,
        line: Int = #line
    ) throws(StateMachineRegistryError) {
        if let existing = types[name] {
            throw StateMachineRegistryError(
                code: .duplicateName,
                message: "\(description) and \(existing.description) are both named \"\(name)\"",
                knownNames: names,
                location: ErrorSourceLocation(file: file, line: line)
            )
        }
        types[name] = .loaded(description: description, make: make)
    }

    /// The Swift type registered under `name`, if any (nil for a plugin loaded at run time).
    public func type(named name: String) -> (any StateMachine.Type)? {
        guard case .type(let type) = types[name] else { return nil }
        return type
    }

    /// The empty state of the state machine registered under `name`. Throws
    /// ``StateMachineRegistryError/Code/unknownName`` with the known names in its message.
    public func make(
        named name: String,
        file: String = #fileID,
        line: Int = #line
    ) throws(StateMachineRegistryError) -> AnyStateMachine {
        guard let entry = types[name] else {
            let known = names
            let list = known.isEmpty ? "none registered" : "known: " + known.joined(separator: ", ")
            throw StateMachineRegistryError(
                code: .unknownName,
                message: "no state machine named \"\(name)\" (\(list))",
                knownNames: known,
                location: ErrorSourceLocation(file: file, line: line)
            )
        }
        switch entry {
        case .type(let type):
            return AnyStateMachine(emptyOf: type)
        case .loaded(let description, let make):
            do {
                return try make()
            } catch {
                throw StateMachineRegistryError(
                    code: .creationFailed,
                    message: "\(description) could not create \"\(name)\": \(error)",
                    knownNames: names,
                    location: ErrorSourceLocation(file: file, line: line)
                )
            }
        }
    }
}
