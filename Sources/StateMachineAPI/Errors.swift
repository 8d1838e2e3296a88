/// Where an error was made: the file and line of the code that threw it.
public struct ErrorSourceLocation: Sendable, Hashable, CustomStringConvertible {
    /// The file, as `#fileID` spells it (`Module/File.swift`).
    public var file: String
    public var line: Int

    public init(file: String = #fileID, line: Int = #line) {
        self.file = file
        self.line = line
    }

    public var description: String { "\(file):\(line)" }
}

/// Bytes that are not a valid encoding: truncated input, an unknown tag, invalid UTF-8, bytes
/// left over after a complete value.
///
/// Codecs throw this instead of trapping, so a replica that receives garbage (from a client,
/// a damaged snapshot or a buggy peer) reports it and keeps serving.
public struct BinaryDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of problem. New codes may be added; do not switch over them exhaustively.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: Sendable, Hashable {
            case truncated
            case invalidValue
            case trailingBytes
        }

        private let value: Value

        private init(_ value: Value) {
            self.value = value
        }

        /// The input ended in the middle of a value.
        public static let truncated = Code(.truncated)
        /// The bytes are there but do not mean anything valid (unknown tag, bad UTF-8, overflow).
        public static let invalidValue = Code(.invalidValue)
        /// A complete value was decoded but bytes remain after it.
        public static let trailingBytes = Code(.trailingBytes)

        public var description: String {
            switch value {
            case .truncated: "truncated"
            case .invalidValue: "invalid value"
            case .trailingBytes: "trailing bytes"
            }
        }
    }

    /// The kind of problem, for code to act on.
    public var code: Code
    /// What was being decoded and what went wrong, for a human.
    public var message: String
    /// The byte offset in the input where the problem was found.
    public var offset: Int
    public var location: ErrorSourceLocation

    public init(code: Code, message: String, offset: Int, location: ErrorSourceLocation = ErrorSourceLocation()) {
        self.code = code
        self.message = message
        self.offset = offset
        self.location = location
    }

    public var description: String {
        "BinaryDecodingError(\(code)) at byte \(offset): \(message) [\(location)]"
    }
}

/// A state machine name that the registry cannot resolve, or that is registered twice.
public struct StateMachineRegistryError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of problem. New codes may be added; do not switch over them exhaustively.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: Sendable, Hashable {
            case unknownName
            case duplicateName
            case creationFailed
        }

        private let value: Value

        private init(_ value: Value) {
            self.value = value
        }

        /// No state machine is registered under the requested name.
        public static let unknownName = Code(.unknownName)
        /// Another type is already registered under the same name.
        public static let duplicateName = Code(.duplicateName)
        /// A plugin loaded at run time could not create an instance.
        public static let creationFailed = Code(.creationFailed)

        public var description: String {
            switch value {
            case .unknownName: "unknown name"
            case .duplicateName: "duplicate name"
            case .creationFailed: "creation failed"
            }
        }
    }

    /// The kind of problem, for code to act on.
    public var code: Code
    /// What went wrong, for a human.
    public var message: String
    /// The names registered when the error was made, sorted, so that the message can list them.
    public var knownNames: [String]
    public var location: ErrorSourceLocation

    public init(
        code: Code,
        message: String,
        knownNames: [String],
        location: ErrorSourceLocation = ErrorSourceLocation()
    ) {
        self.code = code
        self.message = message
        self.knownNames = knownNames
        self.location = location
    }

    public var description: String {
        "StateMachineRegistryError(\(code)): \(message) [\(location)]"
    }
}
