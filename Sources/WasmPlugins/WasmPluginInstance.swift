import WasmKit

/// The exports of ABI version 1 and their types (`memory` aside).
enum WasmPluginExports {
    static let signatures: [(name: String, type: FunctionType)] = [
        ("rh_abi_version", FunctionType(parameters: [], results: [.i32])),
        ("rh_name", FunctionType(parameters: [], results: [.i64])),
        ("rh_alloc", FunctionType(parameters: [.i32], results: [.i32])),
        ("rh_apply", FunctionType(parameters: [.i32, .i32, .i64, .i64], results: [.i64])),
        ("rh_query", FunctionType(parameters: [.i32, .i32, .i64, .i64], results: [.i64])),
        ("rh_snapshot", FunctionType(parameters: [], results: [.i64])),
        ("rh_restore", FunctionType(parameters: [.i32, .i32], results: [.i32])),
    ]
}

/// One instance of a plugin module, in a store of its own: the state of one group.
///
/// Not thread-safe: ``WasmStateMachine`` calls it under a lock. Each public operation gives the
/// store a fresh budget of fuel that covers all its calls (`rh_alloc` then `rh_apply`, say).
final class WasmPluginInstance {
    private let label: String
    private let store: Store
    private let memory: Memory
    private let functions: [String: Function]
    private let limits: WasmPluginModule
    /// The interpreter's stack, allocated once rather than on every call.
    private var stack: ExecutionStack

    init(label: String, store: Store, instance: Instance, limits: WasmPluginModule) throws(WasmPluginError) {
        self.label = label
        self.store = store
        self.limits = limits
        guard let memory = instance.exports[memory: "memory"] else {
            throw WasmPluginError(.missingExport, "\(label): the export memory is not a memory")
        }
        self.memory = memory
        var functions: [String: Function] = [:]
        for (name, type) in WasmPluginExports.signatures {
            guard let function = instance.exports[function: name], function.type == type else {
                throw WasmPluginError(
                    .missingExport,
                    "\(label): the export \(name) must be a function of type \(Self.describe(type))"
                )
            }
            functions[name] = function
        }
        self.functions = functions
        stack = ExecutionStack(engine: store.engine)
    }

    func abiVersion() throws(WasmPluginError) -> UInt32 {
        refuel()
        return try call("rh_abi_version", []).i32
    }

    func name() throws(WasmPluginError) -> String {
        refuel()
        let bytes = try read(answer: try call("rh_name", []).i64, of: "rh_name")
        guard !bytes.isEmpty, bytes.count <= 128, let name = String(validating: bytes, as: UTF8.self) else {
            throw WasmPluginError(.unsupportedABI, "\(label): rh_name must answer 1 to 128 bytes of UTF-8")
        }
        return name
    }

    func apply(_ command: [UInt8], index: UInt64, time: UInt64) throws(WasmPluginError) -> [UInt8] {
        refuel()
        let pointer = try write(command)
        let answer = try call("rh_apply", [.i32(pointer), .i32(UInt32(command.count)), .i64(index), .i64(time)])
        return try read(answer: answer.i64, of: "rh_apply")
    }

    func query(_ query: [UInt8], index: UInt64, time: UInt64) throws(WasmPluginError) -> [UInt8] {
        refuel()
        let pointer = try write(query)
        let answer = try call("rh_query", [.i32(pointer), .i32(UInt32(query.count)), .i64(index), .i64(time)])
        return try read(answer: answer.i64, of: "rh_query")
    }

    func snapshot() throws(WasmPluginError) -> [UInt8] {
        refuel()
        return try read(answer: try call("rh_snapshot", []).i64, of: "rh_snapshot")
    }

    func restore(_ snapshot: [UInt8]) throws(WasmPluginError) {
        refuel()
        let pointer = try write(snapshot)
        let status = try call("rh_restore", [.i32(pointer), .i32(UInt32(snapshot.count))]).i32
        guard status == 0 else {
            throw WasmPluginError(.rejected, "\(label) rejected the snapshot (rh_restore answered \(status))")
        }
    }

    // MARK: - Calls

    private func refuel() {
        store.fuel = Fuel(remaining: limits.fuel)
    }

    /// Copies `bytes` into room the plugin gives with `rh_alloc`, and returns where.
    private func write(_ bytes: [UInt8]) throws(WasmPluginError) -> UInt32 {
        guard bytes.count < 1 << 31 else {
            throw WasmPluginError(.invalidAnswer, "\(label): an input of \(bytes.count) bytes is too large")
        }
        let pointer = try call("rh_alloc", [.i32(UInt32(bytes.count))]).i32
        guard pointer != 0, UInt64(pointer) + UInt64(bytes.count) <= UInt64(memory.byteCount) else {
            throw WasmPluginError(
                .invalidAnswer,
                "\(label): rh_alloc gave no room for \(bytes.count) bytes"
                    + (pointer == 0 ? "" : " (answered \(pointer), past the end of the memory)")
            )
        }
        memory.withUnsafeMutableBufferPointer(offset: UInt(pointer), count: bytes.count) { buffer in
            buffer.copyBytes(from: bytes)
        }
        return pointer
    }

    /// The bytes of an answer packed as `pointer << 32 | length`, where the top bit of the length
    /// flags an error message from the plugin.
    private func read(answer: UInt64, of function: String) throws(WasmPluginError) -> [UInt8] {
        let pointer = UInt64(answer >> 32)
        let length = answer & 0x7FFF_FFFF
        let isError = answer & 0x8000_0000 != 0
        guard pointer + length <= UInt64(memory.byteCount) else {
            throw WasmPluginError(
                .invalidAnswer,
                "\(label): \(function) answered \(length) bytes at \(pointer), past the end of the memory"
            )
        }
        let bytes = memory.withUnsafeBufferPointer(offset: UInt(pointer), count: Int(length)) { Array($0) }
        if isError {
            throw WasmPluginError(.rejected, "\(label): \(String(decoding: bytes, as: UTF8.self))")
        }
        return bytes
    }

    private func call(_ name: String, _ arguments: [Value]) throws(WasmPluginError) -> Value {
        // Present: the initializer checked every export.
        guard let function = functions[name] else { preconditionFailure("no export \(name)") }
        do {
            return try function.invoke(arguments, on: &stack)[0]
        } catch {
            throw Self.failure(of: error, calling: name, label: label, limits: limits)
        }
    }

    /// The error of a call that failed, in words that are the same on every replica.
    static func failure(
        of error: any Error,
        calling function: String,
        label: String,
        limits: WasmPluginModule
    ) -> WasmPluginError {
        if let cap = error as? MemoryCapExceeded {
            return WasmPluginError(
                .memoryLimit,
                "\(label): \(function) needed \(cap.desired) bytes of memory, past its limit of \(cap.cap)"
            )
        }
        // A trap's description may go on with a backtrace of addresses: only its first line.
        var reason = "\(error)".split(separator: "\n", omittingEmptySubsequences: false)[0]
        if reason.hasPrefix("Trap: ") {
            reason = reason.dropFirst("Trap: ".count)
        }
        if reason == "out of fuel" {
            return WasmPluginError(
                .outOfFuel,
                "\(label): \(function) ran out of fuel (its limit is \(limits.fuel) instructions)"
            )
        }
        return WasmPluginError(.trapped, "\(label): \(function) trapped: \(reason)")
    }

    private static func describe(_ type: FunctionType) -> String {
        func list(_ types: [ValueType]) -> String { types.map { "\($0)" }.joined(separator: ", ") }
        return "(\(list(type.parameters))) -> \(list(type.results))"
    }
}
