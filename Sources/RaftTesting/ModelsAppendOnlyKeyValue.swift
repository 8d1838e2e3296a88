public import KeyValueStore

/// ``KeyValueModel`` for histories whose writes are appends only (after an initial empty
/// Put): values only grow, so every state of a valid order is a prefix of the longest value
/// any Get returned for the key, or extends it. Pruning the others keeps the search small
/// when many clients append to one key between two reads, or when many appends have unknown
/// outcomes, where the plain search would try every interleaving or subset.
public struct AppendOnlyKeyValueModel: LinearizabilityModel {
    public typealias Input = KeyValueModel.Input
    public typealias Output = KeyValueStore.Response

    let base = KeyValueModel()
    let longestRead: [String: String]

    /// Nil when the history has writes other than appends (and an initial empty Put), for
    /// which the pruning would be unsound: use ``KeyValueModel`` then.
    public init?(history: [LinearizabilityOperation<Input, Output>]) {
        var longest: [String: String] = [:]
        for operation in history {
            switch operation.input {
            case .command(.append): continue
            case .command(.put(_, let value)) where value.isEmpty:
                // Only harmless before anything else happened on the key.
                let key = operation.input.key
                guard let returned = operation.returned,
                    !history.contains(where: { $0.input.key == key && $0.call < returned && $0.call != operation.call })
                else { return nil }
            case .query:
                if case .value(let value)? = operation.output, value.count > (longest[operation.input.key]?.count ?? -1)
                {
                    longest[operation.input.key] = value
                }
            default:
                return nil
            }
        }
        longestRead = longest
    }

    public var initialState: String? { base.initialState }

    public func partition(of input: Input) -> String { base.partition(of: input) }

    public func isReadOnly(_ input: Input) -> Bool { base.isReadOnly(input) }

    public func step(_ state: String?, input: Input, output: Output?) -> [String?] {
        base.step(state, input: input, output: output).filter { next in
            guard let bound = longestRead[input.key], let value = next else { return true }
            return bound.hasPrefix(value) || value.hasPrefix(bound)
        }
    }
}
