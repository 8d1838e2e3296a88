import ClusterConfig
import Foundation
import RaftHostCLI
import StateMachineAPI
import Testing

/// `plugins:` in cluster.yaml: every way a plugin cannot be served is reported at its entry.
@Suite("loading plugins from cluster.yaml")
struct PluginLoadingTests {
    /// A configuration listing `libraries` under `plugins:`; the first entry is on line 11.
    static func configuration(plugins libraries: [String]) throws -> ClusterConfiguration {
        var yaml = """
            cluster: plugins
            data: /tmp/unused
            nodes:
              - id: n1
                peer: 127.0.0.1:7001
                client: 127.0.0.1:7002
                http: 127.0.0.1:7003
            groups:
              - {name: counter, stateMachine: NativeCounter}
            plugins:

            """
        for library in libraries {
            yaml += "  - native: \(library)\n"
        }
        return try ClusterConfiguration.parse(yaml: yaml, source: "plugins.yaml")
    }

    /// The error of registering `libraries` into a registry holding `builtIns`.
    static func loadingError(
        _ libraries: [String],
        builtIns: [any StateMachine.Type] = []
    ) throws -> ConfigurationError? {
        var registry = try StateMachineRegistry(builtIns)
        let configuration = try configuration(plugins: libraries)
        return #expect(throws: ConfigurationError.self) { try registry.register(plugins: configuration.plugins) }
    }

    @Test("the example libraries register under their names")
    func registers() throws {
        var registry = StateMachineRegistry()
        let libraries = [try ExampleLibraries.nativeCounter(), try ExampleLibraries.cKeyValue()]
        try registry.register(plugins: try Self.configuration(plugins: libraries).plugins)
        #expect(registry.names == ["CKeyValue", "NativeCounter", "WasmFromLog"])
        #expect(try registry.make(named: "NativeCounter").name == "NativeCounter")
    }

    @Test("a missing file")
    func missingFile() throws {
        let error = try Self.loadingError(["/nonexistent/libnothing.so"])
        #expect(error?.code == .invalidPlugin)
        #expect(error?.description == "plugins.yaml:11:5: plugins[0]: no such file: /nonexistent/libnothing.so")
    }

    @Test("a file that is not a shared library: the loader's reason")
    func notALibrary() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let path = directory.path + "/libtext.so"
        try "not a library".write(toFile: path, atomically: true, encoding: .utf8)
        let error = try Self.loadingError([path])
        #expect(error?.description.hasPrefix("plugins.yaml:11:5: plugins[0]: cannot load \(path): ") == true)
        #expect(error?.description.contains("libtext.so") == true)
    }

    @Test("a library without rafthost_plugin_entry")
    func missingSymbol() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let path = try await compileLibrary(
            "int something_else(void) { return 1; }\n",
            named: "plain",
            in: directory.path
        )
        let error = try Self.loadingError([path])
        #expect(
            error?.description
                == "plugins.yaml:11:5: plugins[0]: \(path) is not a RaftHost plugin: "
                + "it does not export rafthost_plugin_entry"
        )
    }

    @Test("a library built for another ABI version names both versions")
    func abiMismatch() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let source = """
            #include <stdint.h>
            static const struct { uint32_t version; const char *name; } table = { 2, "Future" };
            const void *rafthost_plugin_entry(void) { return &table; }

            """
        let path = try await compileLibrary(source, named: "future", in: directory.path)
        let error = try Self.loadingError([path])
        #expect(
            error?.description
                == "plugins.yaml:11:5: plugins[0]: \(path) was built for plugin ABI version 2; "
                + "this host implements version 1"
        )
    }

    @Test("a plugin without a name")
    func nullName() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let source = """
            #include "rafthost_plugin.h"
            static const rafthost_plugin table = { RAFTHOST_PLUGIN_ABI_VERSION, 0 };
            const rafthost_plugin *rafthost_plugin_entry(void) { return &table; }

            """
        let path = try await compileLibrary(source, named: "anonymous", in: directory.path)
        let error = try Self.loadingError([path])
        #expect(error?.description == "plugins.yaml:11:5: plugins[0]: \(path): the plugin has no name (name is NULL)")
    }

    @Test("a name a plugin of the host already has")
    func collisionWithBuiltIn() throws {
        let path = try ExampleLibraries.nativeCounter()
        let error = try Self.loadingError([path], builtIns: [Impostor.self])
        #expect(
            error?.description
                == "plugins.yaml:11:5: plugins[0]: \(path) and \(Impostor.self) are both named \"NativeCounter\""
        )
    }

    @Test("a name an earlier entry already has: the later entry is reported")
    func collisionBetweenPlugins() throws {
        let path = try ExampleLibraries.nativeCounter()
        let error = try Self.loadingError([try ExampleLibraries.cKeyValue(), path, path])
        #expect(
            error?.description == "plugins.yaml:13:5: plugins[2]: \(path) and \(path) are both named \"NativeCounter\""
        )
    }

    @Test("serve and up stop before starting anything, with the entry's location")
    func commandsStop() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let configPath = directory.path + "/plugins.yaml"
        let yaml = """
            cluster: plugins
            data: \(directory.path)/data
            nodes:
              - {id: n1, peer: 127.0.0.1:7001, client: 127.0.0.1:7002, http: 127.0.0.1:7003}
            groups:
              - {name: counter, stateMachine: NativeCounter}
            plugins:
              - native: libmissing.so

            """
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
        for command in [["serve", "--node", "n1"], ["up"]] {
            let error = await #expect(throws: ConfigurationError.self) {
                try await RaftHostCommand.run(command + ["--config", configPath], registry: StateMachineRegistry())
            }
            #expect(
                error?.description == "\(configPath):8:5: plugins[0]: no such file: \(directory.path)/libmissing.so"
            )
        }
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/data"))
    }
}

/// A Swift plugin that has the example's name.
private struct Impostor: StateMachine {
    static let name = "NativeCounter"
    init() {}
    mutating func apply(_ command: UInt8, context: ApplyContext) -> UInt8 { command }
    func query(_ query: UInt8, context: QueryContext) -> UInt8 { query }
    func snapshot() throws -> [UInt8] { [] }
    init(snapshot: [UInt8]) throws {}
}
