package import StateMachineAPI

/// A group whose WebAssembly code comes through its own log: "code through the log".
///
/// It starts with no code and answers every command and query with an error saying so. A
/// *deploy* is an ordinary replicated command (``deployCommand(module:fuel:memoryBytes:)``):
/// the 16-byte ``deployMagic``, then the fuel per call (u64 little-endian), the memory cap in
/// bytes (u64 little-endian) and the module's bytes. Applying it loads the module with the same
/// checks as a `plugins:` entry (``WasmPluginModule/load(bytes:path:fuel:memoryBytes:)``) and, if
/// it loads, replaces the code *and the state* at that log index: the new module starts from a
/// fresh, empty instance (no migration). It answers
/// `deployed NAME (N bytes, fuel F, memory M) at index I`. A module that does not load is
/// answered with the reason, and the code and state in place stay as they were. Loading depends
/// on the command's bytes only, so every replica switches code at the same index.
///
/// Every other command goes to the current module unchanged, and queries too; the commands of
/// such a group may therefore not start with ``deployMagic``.
///
/// Its snapshot holds the module's bytes, fuel and memory cap and the module's own snapshot
/// (`rh_snapshot`), so a replica restored from it (a new node, one that fell behind) runs the
/// code the others ran at that index, in the same state.
package struct WasmFromLog: DynamicStateMachine {
    /// The name `groups[].stateMachine` uses.
    package static let name = "WasmFromLog"

    /// The 16 bytes a deploy command starts with: `"\0RAFTHOST-DEPLOY"`.
    package static let deployMagic: [UInt8] = [0] + Array("RAFTHOST-DEPLOY".utf8)

    /// The smallest memory cap a deploy may give: one WebAssembly page.
    package static let minimumMemoryBytes = 64 << 10

    /// The code in place: the module's bytes and limits, and its instance.
    private struct Deployed: Sendable {
        var bytes: [UInt8]
        var module: WasmPluginModule
        var machine: WasmStateMachine
    }

    private var deployed: Deployed?

    /// A group with no code yet.
    package init() {}

    package var name: String { Self.name }

    /// The name of the module in place (`rh_name`), nil before the first deploy.
    package var deployedName: String? { deployed?.module.name }

    /// The bytes of a command that deploys `module` with `fuel` instructions per call and its
    /// memory capped at `memoryBytes`.
    package static func deployCommand(module: [UInt8], fuel: UInt64, memoryBytes: Int) -> [UInt8] {
        var bytes = deployMagic
        bytes.reserveCapacity(deployMagic.count + 16 + module.count)
        appendLittleEndian(fuel, to: &bytes)
        appendLittleEndian(UInt64(memoryBytes), to: &bytes)
        bytes += module
        return bytes
    }

    /// Loads the module of a deploy the way every replica does, so that a client can refuse to
    /// propose one that would fail. Throws the error the deploy would be answered with (where
    /// `path` names the module).
    package static func validate(
        module: [UInt8],
        path: String = "the deployed module",
        fuel: UInt64,
        memoryBytes: Int
    ) throws(WasmPluginError) -> WasmPluginModule {
        guard fuel > 0 else {
            throw WasmPluginError(.invalidModule, "\(name): a deploy must give a fuel of at least 1 instruction")
        }
        guard memoryBytes >= minimumMemoryBytes else {
            throw WasmPluginError(
                .invalidModule,
                "\(name): a deploy must give a memory cap of at least one WebAssembly page (65536 bytes), "
                    + "not \(memoryBytes)"
            )
        }
        return try WasmPluginModule.load(bytes: module, path: path, fuel: fuel, memoryBytes: memoryBytes)
    }

    package mutating func apply(encodedCommand: [UInt8], context: ApplyContext) throws -> [UInt8] {
        if encodedCommand.starts(with: Self.deployMagic) {
            return try deploy(encodedCommand, at: context.index)
        }
        guard var current = deployed else { throw Self.notDeployed() }
        defer { deployed = current }
        return try current.machine.apply(encodedCommand: encodedCommand, context: context)
    }

    package func query(encoded: [UInt8], context: QueryContext) throws -> [UInt8] {
        guard let deployed else { throw Self.notDeployed() }
        return try deployed.machine.query(encoded: encoded, context: context)
    }

    /// Version 1: `[1, 0]` with no code; with code, `[1, 1]`, fuel, memory cap, the module's
    /// length (u64 little-endian each), its bytes, then the module's own snapshot to the end.
    package func snapshot() throws -> [UInt8] {
        guard let deployed else { return [Self.snapshotVersion, 0] }
        let state = try deployed.machine.snapshot()
        var bytes: [UInt8] = [Self.snapshotVersion, 1]
        bytes.reserveCapacity(2 + 24 + deployed.bytes.count + state.count)
        appendLittleEndian(deployed.module.fuel, to: &bytes)
        appendLittleEndian(UInt64(deployed.module.memoryBytes), to: &bytes)
        appendLittleEndian(UInt64(deployed.bytes.count), to: &bytes)
        bytes += deployed.bytes
        bytes += state
        return bytes
    }

    /// Rebuilds the module from the snapshot's bytes and restores its state into a fresh
    /// instance; on error the code and state in place are kept.
    package mutating func restore(from snapshot: [UInt8]) throws {
        var reader = Reader(bytes: snapshot[...])
        guard let version = reader.byte(), version == Self.snapshotVersion, let hasCode = reader.byte() else {
            throw WasmPluginError(.rejected, "\(Self.name): not a snapshot of this version")
        }
        if hasCode == 0, reader.isAtEnd {
            deployed = nil
            return
        }
        guard hasCode == 1, let fuel = reader.u64(), let memory = reader.u64(), let length = reader.u64(),
            memory <= UInt64(Int.max), let module = reader.bytes(length)
        else {
            throw WasmPluginError(.rejected, "\(Self.name): a truncated or malformed snapshot")
        }
        let loaded = try Self.validate(module: module, fuel: fuel, memoryBytes: Int(memory))
        var machine = try loaded.makeWasmStateMachine()
        try machine.restore(from: Array(reader.rest))
        deployed = Deployed(bytes: module, module: loaded, machine: machine)
    }

    // MARK: - Deploys

    private mutating func deploy(_ command: [UInt8], at index: UInt64) throws(WasmPluginError) -> [UInt8] {
        var reader = Reader(bytes: command[Self.deployMagic.count...])
        guard let fuel = reader.u64(), let memory = reader.u64() else {
            throw WasmPluginError(
                .invalidModule,
                "\(Self.name): a deploy command is the 16-byte header, the fuel and the memory cap "
                    + "(u64 little-endian each) and the module; this one is \(command.count) bytes long"
            )
        }
        let module = Array(reader.rest)
        let memoryBytes = Int(clamping: memory)
        let loaded = try Self.validate(module: module, fuel: fuel, memoryBytes: memoryBytes)
        let machine = try loaded.makeWasmStateMachine()
        deployed = Deployed(bytes: module, module: loaded, machine: machine)
        let answer =
            "deployed \(loaded.name) (\(module.count) bytes, fuel \(fuel), memory \(memoryBytes)) at index \(index)"
        return Array(answer.utf8)
    }

    private static let snapshotVersion: UInt8 = 1

    private static func notDeployed() -> WasmPluginError {
        WasmPluginError(
            .notDeployed,
            "\(name): no module is deployed yet (deploy one with `raftctl plugin deploy`)"
        )
    }
}

private func appendLittleEndian(_ value: UInt64, to bytes: inout [UInt8]) {
    for shift in stride(from: 0, to: 64, by: 8) {
        bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
    }
}

/// Reads the fields of a deploy command or a snapshot.
private struct Reader {
    var bytes: ArraySlice<UInt8>

    var isAtEnd: Bool { bytes.isEmpty }
    var rest: ArraySlice<UInt8> { bytes }

    mutating func byte() -> UInt8? {
        bytes.popFirst()
    }

    mutating func u64() -> UInt64? {
        guard bytes.count >= 8 else { return nil }
        var value: UInt64 = 0
        for (offset, byte) in bytes.prefix(8).enumerated() {
            value |= UInt64(byte) << UInt64(8 * offset)
        }
        bytes = bytes.dropFirst(8)
        return value
    }

    mutating func bytes(_ count: UInt64) -> [UInt8]? {
        guard count <= UInt64(bytes.count) else { return nil }
        let taken = Array(bytes.prefix(Int(count)))
        bytes = bytes.dropFirst(Int(count))
        return taken
    }
}
