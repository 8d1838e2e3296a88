/// A problem in a cluster configuration, located at the YAML key it concerns.
///
/// Loading stops at the first problem found, so a file with several problems reports them one
/// at a time. The ``description`` reads like a compiler diagnostic:
///
/// ```
/// cluster.yaml:18:5: groups[0].maxraftstat: unknown key; did you mean 'maxraftstate'?
/// ```
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    /// What kind of problem this is. New codes may be added; match the ones you handle.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: String, Hashable, Sendable {
            case unreadableFile
            case syntax
            case unknownKey
            case duplicateKey
            case missingKey
            case typeMismatch
            case invalidValue
            case invalidDuration
            case invalidSize
            case invalidAddress
            case emptyList
            case duplicateNodeID
            case duplicateAddress
            case duplicateGroupName
            case unknownFsyncMode
            case invalidTimeouts
            case conflictingOptions
            case invalidPlugin
        }

        private var wrapped: Wrapped

        private init(_ wrapped: Wrapped) {
            self.wrapped = wrapped
        }

        public var description: String { wrapped.rawValue }

        /// The file could not be read.
        public static let unreadableFile = Code(.unreadableFile)
        /// The text is not well-formed YAML (libyaml's diagnosis and position).
        public static let syntax = Code(.syntax)
        /// A mapping holds a key the configuration does not define.
        public static let unknownKey = Code(.unknownKey)
        /// A mapping holds the same key twice.
        public static let duplicateKey = Code(.duplicateKey)
        /// A required key is absent; the error points at the mapping that lacks it.
        public static let missingKey = Code(.missingKey)
        /// A value has the wrong shape: a string where a mapping, list, number or boolean belongs.
        public static let typeMismatch = Code(.typeMismatch)
        /// A value has the right shape but is out of range or malformed (a node id, a count).
        public static let invalidValue = Code(.invalidValue)
        /// A duration is malformed or not positive.
        public static let invalidDuration = Code(.invalidDuration)
        /// A byte size is malformed, negative or zero where that is not allowed.
        public static let invalidSize = Code(.invalidSize)
        /// An address is not `host:port` with a port in 1...65535.
        public static let invalidAddress = Code(.invalidAddress)
        /// A list that needs at least one element is empty.
        public static let emptyList = Code(.emptyList)
        /// Two nodes have the same id.
        public static let duplicateNodeID = Code(.duplicateNodeID)
        /// Two endpoints (peer, client or http of any nodes) share one host and port.
        public static let duplicateAddress = Code(.duplicateAddress)
        /// Two groups have the same name.
        public static let duplicateGroupName = Code(.duplicateGroupName)
        /// `storage.fsync` names no known mode.
        public static let unknownFsyncMode = Code(.unknownFsyncMode)
        /// The election timeout does not leave room for several heartbeats.
        public static let invalidTimeouts = Code(.invalidTimeouts)
        /// Options that cannot be used together, such as lease reads without check-quorum.
        public static let conflictingOptions = Code(.conflictingOptions)
        /// A `plugins` entry could not be loaded: a missing file, a missing symbol, an ABI
        /// version mismatch, an invalid module, a name another plugin has.
        public static let invalidPlugin = Code(.invalidPlugin)
    }

    /// What kind of problem this is.
    public var code: Code
    /// What is wrong, and where it helps, how to fix it.
    public var message: String
    /// The key the problem concerns, such as `groups[0].maxraftstate`; empty for the whole file.
    public var keyPath: String
    /// The 1-based line of the offending key or value; `nil` when the file could not be read.
    public var line: Int?
    /// The 1-based column of the offending key or value; `nil` when the file could not be read.
    public var column: Int?
    /// The name of the configuration source, normally the path of the file.
    public var source: String

    /// Creates an error; the loader makes these, and tests or wrappers may too.
    public init(
        code: Code,
        message: String,
        keyPath: String,
        line: Int?,
        column: Int?,
        source: String
    ) {
        self.code = code
        self.message = message
        self.keyPath = keyPath
        self.line = line
        self.column = column
        self.source = source
    }

    /// `source:line:column: keyPath: message`, leaving out the parts that are unknown or empty.
    public var description: String {
        var text = source
        if let line, let column {
            text += ":\(line):\(column)"
        }
        text += ": "
        if !keyPath.isEmpty {
            text += "\(keyPath): "
        }
        return text + message
    }
}
