import StateMachineAPI
import Testing

@Suite("Binary writer and reader")
struct BinaryCodecTests {
    @Test(arguments: [0, 1, 127, 128, 300, 16_383, 16_384, UInt64(UInt32.max), UInt64.max])
    func varintRoundTrips(_ value: UInt64) throws {
        var writer = BinaryWriter()
        writer.writeVarint(value)
        var reader = BinaryReader(writer.bytes)
        #expect(try reader.readVarint() == value)
        #expect(reader.isAtEnd)
    }

    @Test func varintSizes() {
        #expect(UInt64(127).encoded().count == 1)
        #expect(UInt64(128).encoded().count == 2)
        #expect(UInt64.max.encoded().count == 10)
    }

    @Test(arguments: [0, 1, -1, 63, -64, 64, Int64.max, Int64.min])
    func zigzagRoundTrips(_ value: Int64) throws {
        #expect(try Int64(decoding: value.encoded()) == value)
    }

    @Test func smallNegativeNumbersStaySmall() {
        #expect(Int64(-1).encoded() == [1])
        #expect(Int64(-64).encoded().count == 1)
    }

    @Test func fixedWidthIntegersAreLittleEndian() throws {
        var writer = BinaryWriter()
        writer.writeUInt32(0x0102_0304)
        writer.writeUInt64(0x0102_0304_0506_0708)
        #expect(writer.bytes == [4, 3, 2, 1, 8, 7, 6, 5, 4, 3, 2, 1])
        var reader = BinaryReader(writer.bytes)
        #expect(try reader.readUInt32() == 0x0102_0304)
        #expect(try reader.readUInt64() == 0x0102_0304_0506_0708)
        try reader.finish()
    }

    @Test func stringsBytesOptionalsAndArraysRoundTrip() throws {
        var writer = BinaryWriter()
        writer.writeString("héllo, 世界")
        writer.writeBytes([0, 255, 7])
        writer.write(String?.none)
        writer.write(Optional("x"))
        writer.write([true, false, true])
        writer.write([Int(-5), 5])
        var reader = BinaryReader(writer.bytes)
        #expect(try reader.readString() == "héllo, 世界")
        #expect(try reader.readBytes() == [0, 255, 7])
        #expect(try reader.read(String?.self) == nil)
        #expect(try reader.read(String?.self) == "x")
        #expect(try reader.read([Bool].self) == [true, false, true])
        #expect(try reader.read([Int].self) == [-5, 5])
        try reader.finish()
    }

    @Test func varintLongerThanTenBytesIsRejected() {
        let bytes = [UInt8](repeating: 0xff, count: 10) + [0x01]
        #expect(throws: BinaryDecodingError.self) { try UInt64(decoding: bytes) }
        let error = #expect(throws: BinaryDecodingError.self) { try UInt64(decoding: [0xff, 0xff, 0xff]) }
        #expect(error?.code == .truncated)
    }

    @Test func forgedLengthIsTruncationNotAllocation() {
        // A string claiming 2^62 bytes must fail on the length check, before any allocation.
        var writer = BinaryWriter()
        writer.writeVarint(1 << 62)
        writer.writeRawBytes([65, 66])
        let error = #expect(throws: BinaryDecodingError.self) { try String(decoding: writer.bytes) }
        #expect(error?.code == .truncated)
        #expect(error?.offset == 0)
    }

    @Test func invalidUTF8IsRejected() {
        let error = #expect(throws: BinaryDecodingError.self) { try String(decoding: [2, 0xc3, 0x28]) }
        #expect(error?.code == .invalidValue)
    }

    @Test func invalidBoolIsRejected() {
        let error = #expect(throws: BinaryDecodingError.self) { try Bool(decoding: [2]) }
        #expect(error?.code == .invalidValue)
        #expect(error?.description.contains("Bool") == true)
    }

    @Test func trailingBytesAreRejected() {
        let error = #expect(throws: BinaryDecodingError.self) { try Bool(decoding: [1, 0]) }
        #expect(error?.code == .trailingBytes)
        #expect(error?.offset == 1)
    }

    @Test(arguments: [Int.min, -1, 0, Int.max])
    func intRoundTripsAtItsLimits(_ value: Int) throws {
        #expect(try Int(decoding: value.encoded()) == value)
    }
}
