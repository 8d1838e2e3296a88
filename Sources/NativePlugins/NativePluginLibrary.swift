import CRaftHostPlugin
package import StateMachineAPI

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A shared library exporting the RaftHost plugin ABI (`include/rafthost_plugin.h`), loaded
/// and checked.
///
/// ```swift
/// let library = try NativePluginLibrary.open(path: "/srv/plugins/libcounter.so")
/// try registry.register(name: library.name, description: library.path) {
///     try library.makeStateMachine()
/// }
/// ```
///
/// A library is never unloaded: its states may live as long as the process.
package struct NativePluginLibrary: Sendable {
    /// The version of the ABI this host implements (`RAFTHOST_PLUGIN_ABI_VERSION`).
    package static let abiVersion = UInt32(RAFTHOST_PLUGIN_ABI_VERSION)

    /// The path the library was opened from.
    package let path: String
    /// The plugin's name: what `groups[].stateMachine` gives in `cluster.yaml`.
    package let name: String
    let table: Table

    /// Loads the library at `path` (a path without a slash is relative to the current directory)
    /// and checks its entry and table. Throws with the reason when the file is missing or
    /// cannot be loaded, lacks `rafthost_plugin_entry`, was built for another ABI version, or
    /// has no name or a missing function.
    package static func open(path: String) throws(NativePluginError) -> NativePluginLibrary {
        guard access(path, F_OK) == 0 else {
            throw NativePluginError(.missingFile, "no such file: \(path)")
        }
        // dlopen searches the library path for a bare file name; a plugin path means a file.
        let loadPath = path.contains("/") ? path : "./" + path
        guard let handle = dlopen(loadPath, RTLD_NOW | RTLD_LOCAL) else {
            throw NativePluginError(.unloadable, "cannot load \(path): \(lastLoaderError())")
        }
        // The handle is deliberately never closed (see the type's documentation).
        _ = dlerror()
        guard let symbol = dlsym(handle, RAFTHOST_PLUGIN_ENTRY_SYMBOL) else {
            throw NativePluginError(
                .missingSymbol,
                "\(path) is not a RaftHost plugin: it does not export \(RAFTHOST_PLUGIN_ENTRY_SYMBOL)"
            )
        }
        typealias Entry = @convention(c) () -> UnsafeRawPointer?
        let entry = unsafeBitCast(symbol, to: Entry.self)
        guard let raw = entry() else {
            throw NativePluginError(.invalidTable, "\(path): \(RAFTHOST_PLUGIN_ENTRY_SYMBOL) returned NULL")
        }
        // The version is the first field, and the only one read before it is checked.
        let version = raw.load(as: UInt32.self)
        guard version == abiVersion else {
            throw NativePluginError(
                .abiVersionMismatch,
                "\(path) was built for plugin ABI version \(version); this host implements version \(abiVersion)"
            )
        }
        let plugin = raw.assumingMemoryBound(to: rafthost_plugin.self).pointee
        guard let cName = plugin.name else {
            throw NativePluginError(.invalidTable, "\(path): the plugin has no name (name is NULL)")
        }
        guard let name = String(validatingCString: cName), !name.isEmpty else {
            throw NativePluginError(.invalidTable, "\(path): the plugin's name is empty or not UTF-8")
        }
        let table = try Table(plugin, path: path)
        return NativePluginLibrary(path: path, name: name, table: table)
    }

    /// A new, empty state of the plugin, as a state machine the host drives with bytes.
    package func makeStateMachine() throws(NativePluginError) -> AnyStateMachine {
        AnyStateMachine(dynamic: NativeStateMachine(state: try makeState()))
    }

    func makeState() throws(NativePluginError) -> NativePluginState {
        var state: UnsafeMutableRawPointer?
        let result = table.call { output in table.create(&state, output) }
        if case .failure(let message) = result {
            throw NativePluginError(.pluginError, "\(name) could not create a state: \(message)")
        }
        guard let state else {
            throw NativePluginError(.pluginError, "\(name) could not create a state: create gave NULL")
        }
        return NativePluginState(library: self, pointer: state)
    }

    private static func lastLoaderError() -> String {
        dlerror().map { String(cString: $0) } ?? "unknown error"
    }
}

extension NativePluginLibrary {
    /// The plugin's functions, every one checked to be present.
    ///
    /// `@unchecked Sendable`: C function pointers into a library that is never unloaded,
    /// never changed once read.
    struct Table: @unchecked Sendable {
        typealias Buffer = UnsafeMutablePointer<rafthost_buffer>?

        let create: @convention(c) (UnsafeMutablePointer<UnsafeMutableRawPointer?>?, Buffer) -> Int32
        let destroy: @convention(c) (UnsafeMutableRawPointer?) -> Void
        let apply:
            @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<UInt8>?, Int, UInt64, UInt64, Buffer) -> Int32
        let query: @convention(c) (UnsafeRawPointer?, UnsafePointer<UInt8>?, Int, UInt64, UInt64, Buffer) -> Int32
        let snapshot: @convention(c) (UnsafeRawPointer?, Buffer) -> Int32
        let restore: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<UInt8>?, Int, Buffer) -> Int32
        let freeBuffer: @convention(c) (rafthost_buffer) -> Void

        init(_ plugin: rafthost_plugin, path: String) throws(NativePluginError) {
            func missing(_ function: String) -> NativePluginError {
                NativePluginError(.invalidTable, "\(path): the plugin's \(function) function is NULL")
            }
            guard let create = plugin.create else { throw missing("create") }
            guard let destroy = plugin.destroy else { throw missing("destroy") }
            guard let apply = plugin.apply else { throw missing("apply") }
            guard let query = plugin.query else { throw missing("query") }
            guard let snapshot = plugin.snapshot else { throw missing("snapshot") }
            guard let restore = plugin.restore else { throw missing("restore") }
            guard let freeBuffer = plugin.free_buffer else { throw missing("free_buffer") }
            self.create = create
            self.destroy = destroy
            self.apply = apply
            self.query = query
            self.snapshot = snapshot
            self.restore = restore
            self.freeBuffer = freeBuffer
        }

        /// Runs a plugin function that fills an output buffer, copies the buffer out and hands
        /// it back to the plugin: the bytes on success, the message on an error status.
        func call(_ function: (UnsafeMutablePointer<rafthost_buffer>) -> Int32) -> Result<[UInt8], PluginMessage> {
            var buffer = rafthost_buffer(data: nil, length: 0)
            let status = function(&buffer)
            var bytes: [UInt8] = []
            if let data = buffer.data {
                bytes = Array(UnsafeBufferPointer(start: data, count: buffer.length))
                freeBuffer(buffer)
            }
            guard status == RAFTHOST_PLUGIN_OK else {
                let text = bytes.isEmpty ? "error status \(status), no message" : String(decoding: bytes, as: UTF8.self)
                return .failure(PluginMessage(text: text))
            }
            return .success(bytes)
        }
    }

    /// The UTF-8 message of an error status (invalid UTF-8 shows as replacement characters).
    struct PluginMessage: Error, CustomStringConvertible {
        var text: String
        var description: String { text }
    }
}
