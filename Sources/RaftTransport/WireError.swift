/// Why a byte string is not a valid frame.
///
/// Decoding is total: every input either yields a value or one of these. The code is a struct
/// rather than an enum so that new codes can be added without breaking callers that switch.
package struct WireError: Error, Hashable, Sendable, CustomStringConvertible {
    package struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case truncated
            case oversized
            case unknownFrameType
            case badTag
            case lengthOverflow
            case trailingBytes
            case invalidUTF8
            case badMagic
            case invalidMembership
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// The input ended inside a fixed-size field or before the length prefix promised.
        package static let truncated = Code(.truncated)
        /// A frame (declared or encoded) is larger than the configured maximum.
        package static let oversized = Code(.oversized)
        /// The frame type byte names no frame this version knows.
        package static let unknownFrameType = Code(.unknownFrameType)
        /// An enum tag, a boolean or an optional's presence byte has a value outside its range.
        package static let badTag = Code(.badTag)
        /// A length or element count claims more bytes than the frame has left.
        package static let lengthOverflow = Code(.lengthOverflow)
        /// A frame body has bytes left over after its last field.
        package static let trailingBytes = Code(.trailingBytes)
        /// A string field is not valid UTF-8.
        package static let invalidUTF8 = Code(.invalidUTF8)
        /// A handshake does not start with the protocol's magic number: not a RaftHost peer.
        package static let badMagic = Code(.badMagic)
        /// A snapshot's membership field is not an encoded `Membership`.
        package static let invalidMembership = Code(.invalidMembership)

        package var description: String {
            switch base {
            case .truncated: "truncated"
            case .oversized: "oversized"
            case .unknownFrameType: "unknown frame type"
            case .badTag: "bad tag"
            case .lengthOverflow: "length overflow"
            case .trailingBytes: "trailing bytes"
            case .invalidUTF8: "invalid UTF-8"
            case .invalidMembership: "invalid membership"
            case .badMagic: "bad magic"
            }
        }
    }

    package var code: Code
    /// What was being read, for the log line that closes the connection.
    package var message: String
    /// Byte offset within the frame body (or the input, for the length prefix) where decoding stopped.
    package var offset: Int

    package init(_ code: Code, _ message: String, offset: Int) {
        self.code = code
        self.message = message
        self.offset = offset
    }

    package var description: String {
        "\(code): \(message) (at byte \(offset))"
    }
}
