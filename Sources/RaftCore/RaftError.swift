/// An error from a call the driver made at the wrong time.
public struct RaftError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Value: Hashable, Sendable {
            case compactionBehindSnapshot
            case compactionBeyondApplied
            case invalidMembershipChange
            case malformedMembership
        }
        fileprivate var value: Value
        public static let compactionBehindSnapshot = Code(value: .compactionBehindSnapshot)
        public static let compactionBeyondApplied = Code(value: .compactionBeyondApplied)
        /// A membership change that cannot be made from the current membership.
        public static let invalidMembershipChange = Code(value: .invalidMembershipChange)
        /// Bytes that are not an encoded ``Membership``.
        public static let malformedMembership = Code(value: .malformedMembership)
        public var description: String { "\(value)" }
    }

    public var code: Code
    public var message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
