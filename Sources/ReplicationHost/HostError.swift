/// Why a node could not start or had to stop.
public struct HostError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure; more codes may be added.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate enum Value: Sendable, Hashable {
            case unknownNode
            case unknownStateMachine
            case storage
            case lifecycle
            case unsupported
            case tls
            case listen
        }
        fileprivate var value: Value

        /// The node id is not in the configuration.
        public static let unknownNode = Code(value: .unknownNode)
        /// A group names a state machine the registry does not hold.
        public static let unknownStateMachine = Code(value: .unknownStateMachine)
        /// A group's storage could not be opened, read or written; the message names the file
        /// and offset when the storage knows them.
        public static let storage = Code(value: .storage)
        /// The node was used out of order (started twice, run after shutdown).
        public static let lifecycle = Code(value: .lifecycle)
        /// The configuration asks for something this version does not do.
        public static let unsupported = Code(value: .unsupported)
        /// A certificate, key or CA file of the `tls` section cannot be used.
        public static let tls = Code(value: .tls)
        /// A client or HTTP address of this node cannot be listened on (in use, not local);
        /// the message names the address.
        public static let listen = Code(value: .listen)

        public var description: String {
            switch value {
            case .unknownNode: "unknownNode"
            case .unknownStateMachine: "unknownStateMachine"
            case .storage: "storage"
            case .lifecycle: "lifecycle"
            case .unsupported: "unsupported"
            case .tls: "tls"
            case .listen: "listen"
            }
        }
    }

    public var code: Code
    public var message: String
    /// The error this one wraps, if any.
    public var underlying: (any Error)?

    public init(_ code: Code, _ message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var description: String {
        "\(code): \(message)" + (underlying.map { ": \($0)" } ?? "")
    }
}
