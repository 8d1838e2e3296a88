// A counter as a RaftHost WebAssembly plugin, in Embedded Swift without a libc, so without
// allocating: its buffers are fixed globals (ABI version 1:
// Sources/WasmPlugins/Docs.docc/WasmPluginABI.md). Built by `make wasm-examples`.
//
// Command, as text: a decimal integer such as `5` or `-2`, added to the counter; the answer is
// the new value in decimal. Query: anything, answered with the value in decimal. Snapshot: the
// value as 8 bytes, little endian.

/// The state: everything a snapshot holds.
nonisolated(unsafe) var value: Int64 = 0

/// Where the host writes inputs (commands are short: longer ones are refused by `rh_alloc`).
nonisolated(unsafe) var input = InlineArray<64, UInt8>(repeating: 0)
/// Where answers are built.
nonisolated(unsafe) var output = InlineArray<64, UInt8>(repeating: 0)

/// `pointer << 32 | length`; the top bit of the length flags an error message.
func pack(_ pointer: UnsafeRawPointer, _ length: Int, error: Bool = false) -> UInt64 {
    UInt64(UInt(bitPattern: pointer)) << 32 | UInt64(length) | (error ? 0x8000_0000 : 0)
}

/// Packs the first `length` bytes of `output`.
func answer(length: Int, error: Bool = false) -> UInt64 {
    withUnsafeMutablePointer(to: &output) { pack($0, length, error: error) }
}

/// Packs a message, as an error.
func fail(_ message: StaticString) -> UInt64 {
    pack(message.utf8Start, message.utf8CodeUnitCount, error: true)
}

/// Writes `number` in decimal into `output` and packs it.
func answer(decimal number: Int64) -> UInt64 {
    var digits = InlineArray<20, UInt8>(repeating: 0)
    var count = 0
    var rest = number.magnitude
    repeat {
        digits[count] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest % 10)
        count &+= 1
        rest /= 10
    } while rest > 0
    var length = 0
    if number < 0 {
        output[0] = UInt8(ascii: "-")
        length = 1
    }
    while count > 0 {
        count &-= 1
        output[length] = digits[count]
        length &+= 1
    }
    return answer(length: length)
}

/// Parses an optional `-` and 1 to 18 digits.
func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> Int64? {
    var digits = bytes[...]
    let negative = digits.first == UInt8(ascii: "-")
    if negative { digits = digits.dropFirst() }
    guard !digits.isEmpty, digits.count <= 18 else { return nil }
    var number: Int64 = 0
    for digit in digits {
        guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "9") else { return nil }
        number = number &* 10 &+ Int64(digit &- UInt8(ascii: "0"))
    }
    return negative ? -number : number
}

@_expose(wasm, "rh_abi_version")
@_cdecl("rh_abi_version")
func abiVersion() -> Int32 { 1 }

@_expose(wasm, "rh_name")
@_cdecl("rh_name")
func name() -> UInt64 {
    let name: StaticString = "WasmCounter"
    return pack(name.utf8Start, name.utf8CodeUnitCount)
}

/// Room for `length` bytes of input, or null (0) when it is longer than any command.
@_expose(wasm, "rh_alloc")
@_cdecl("rh_alloc")
func alloc(_ length: Int32) -> UnsafeMutableRawPointer? {
    guard length <= 64 else { return nil }
    return withUnsafeMutablePointer(to: &input) { UnsafeMutableRawPointer($0) }
}

@_expose(wasm, "rh_apply")
@_cdecl("rh_apply")
func apply(_ pointer: UnsafePointer<UInt8>, _ length: Int32, _ index: UInt64, _ time: UInt64) -> UInt64 {
    guard let delta = parse(UnsafeBufferPointer(start: pointer, count: Int(length))) else {
        return fail("a command is a decimal integer of at most 18 digits")
    }
    let (sum, overflow) = value.addingReportingOverflow(delta)
    guard !overflow else { return fail("the counter would overflow") }
    value = sum
    return answer(decimal: value)
}

@_expose(wasm, "rh_query")
@_cdecl("rh_query")
func query(_ pointer: UnsafePointer<UInt8>, _ length: Int32, _ index: UInt64, _ time: UInt64) -> UInt64 {
    answer(decimal: value)
}

@_expose(wasm, "rh_snapshot")
@_cdecl("rh_snapshot")
func snapshot() -> UInt64 {
    for byte in 0..<8 {
        output[byte] = UInt8(truncatingIfNeeded: value >> (8 &* byte))
    }
    return answer(length: 8)
}

/// Called once on a fresh instance.
@_expose(wasm, "rh_restore")
@_cdecl("rh_restore")
func restore(_ pointer: UnsafePointer<UInt8>, _ length: Int32) -> Int32 {
    guard length == 8 else { return 1 }
    var restored: Int64 = 0
    for byte in 0..<8 {
        restored |= Int64(pointer[byte]) << (8 &* byte)
    }
    value = restored
    return 0
}
