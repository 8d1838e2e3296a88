/// A destination for encoded bytes: `[UInt8]` here, NIO's `ByteBuffer` in the NIO adapter.
///
/// All integers are big-endian and fixed-width: a few bytes more than varints, but every field
/// has one size, which keeps the decoder's bounds checks trivial to audit.
package protocol WireOutput {
    /// Bytes written so far; positions passed to `setUInt32(_:at:)` and `truncate(to:)` use it.
    var wireCount: Int { get }
    mutating func writeWireByte(_ value: UInt8)
    mutating func writeWireInteger<I: FixedWidthInteger>(_ value: I)
    mutating func writeWireBytes(_ bytes: [UInt8])
    /// Overwrites four bytes already written at `position` (back-patching a length prefix).
    mutating func setWireUInt32(_ value: UInt32, at position: Int)
    /// Drops everything written after `position` (undoing a frame that turned out too large).
    mutating func truncateWire(to position: Int)
}

extension Array: WireOutput where Element == UInt8 {
    package var wireCount: Int { count }

    package mutating func writeWireByte(_ value: UInt8) {
        append(value)
    }

    package mutating func writeWireInteger<I: FixedWidthInteger>(_ value: I) {
        for shift in stride(from: I.bitWidth - 8, through: 0, by: -8) {
            append(UInt8(truncatingIfNeeded: value >> shift))
        }
    }

    package mutating func writeWireBytes(_ bytes: [UInt8]) {
        append(contentsOf: bytes)
    }

    package mutating func setWireUInt32(_ value: UInt32, at position: Int) {
        for i in 0..<4 {
            self[position + i] = UInt8(truncatingIfNeeded: value >> (24 - 8 * i))
        }
    }

    package mutating func truncateWire(to position: Int) {
        removeSubrange(position...)
    }
}

extension WireOutput {
    mutating func writeBool(_ value: Bool) {
        writeWireByte(value ? 1 : 0)
    }

    /// A byte string: u32 length, then the bytes.
    mutating func writeLengthPrefixed(_ bytes: [UInt8]) {
        writeWireInteger(UInt32(truncatingIfNeeded: bytes.count))
        writeWireBytes(bytes)
    }

    /// A string: its UTF-8 bytes, length-prefixed.
    mutating func writeString(_ string: String) {
        writeLengthPrefixed(Array(string.utf8))
    }

    /// An element count: u32. Callers keep counts below 2^32 through the frame size limit.
    mutating func writeCount(_ count: Int) {
        writeWireInteger(UInt32(truncatingIfNeeded: count))
    }
}

/// Reads the fields of one frame body. Every read checks the remaining length first, and every
/// count is checked against the bytes left before anything is allocated, so a hostile length
/// can make decoding fail but never allocate more than the frame itself.
package struct WireReader {
    private let bytes: [UInt8]
    private(set) var position: Int
    private let end: Int

    package init(_ bytes: [UInt8], from start: Int = 0) {
        self.bytes = bytes
        self.position = start
        self.end = bytes.count
    }

    var remaining: Int { end - position }

    mutating func readByte(_ field: @autoclosure () -> String) throws(WireError) -> UInt8 {
        guard position < end else {
            throw WireError(.truncated, "missing \(field())", offset: position)
        }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func readInteger<I: FixedWidthInteger>(
        _: I.Type = I.self,
        _ field: @autoclosure () -> String
    ) throws(WireError) -> I {
        let size = MemoryLayout<I>.size
        guard remaining >= size else {
            throw WireError(.truncated, "missing \(field())", offset: position)
        }
        var value = I.zero
        for i in 0..<size {
            value = (value << 8) | I(bytes[position + i])
        }
        position += size
        return value
    }

    mutating func readBool(_ field: @autoclosure () -> String) throws(WireError) -> Bool {
        let start = position
        switch try readByte(field()) {
        case 0: return false
        case 1: return true
        case let other: throw WireError(.badTag, "\(field()) is \(other), not a boolean", offset: start)
        }
    }

    /// Reads a u32 element count and checks that `count * minimumElementSize` bytes remain.
    mutating func readCount(
        minimumElementSize: Int,
        _ field: @autoclosure () -> String
    ) throws(WireError) -> Int {
        let start = position
        let count = Int(try readInteger(UInt32.self, "\(field()) count"))
        let (needed, overflow) = count.multipliedReportingOverflow(by: max(minimumElementSize, 1))
        guard !overflow, needed <= remaining else {
            throw WireError(
                .lengthOverflow,
                "\(field()) count \(count) needs at least \(needed) bytes, \(remaining) left",
                offset: start
            )
        }
        return count
    }

    mutating func readLengthPrefixed(_ field: @autoclosure () -> String) throws(WireError) -> [UInt8] {
        let count = try readCount(minimumElementSize: 1, field())
        defer { position += count }
        return Array(bytes[position..<position + count])
    }

    mutating func readString(_ field: @autoclosure () -> String) throws(WireError) -> String {
        let start = position
        let utf8 = try readLengthPrefixed(field())
        guard let string = String(validating: utf8, as: UTF8.self) else {
            throw WireError(.invalidUTF8, "\(field()) is not valid UTF-8", offset: start)
        }
        return string
    }

    func expectEnd(_ what: @autoclosure () -> String) throws(WireError) {
        guard position == end else {
            throw WireError(.trailingBytes, "\(remaining) bytes after \(what())", offset: position)
        }
    }
}
