import Foundation
import Testing

/// The libraries of Examples/NativeCounter, which `make native-example` builds (and `make test`
/// before the tests).
enum ExampleLibraries {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// The Swift plugin, NativeCounter.
    static func nativeCounter() throws -> String {
        try existing(packageRoot + "/Examples/NativeCounter/.build/debug/libNativeCounter.so")
    }

    /// The C plugin, CKeyValue.
    static func cKeyValue() throws -> String {
        try existing(packageRoot + "/Examples/NativeCounter/.build/c/libCKeyValue.so")
    }

    private static func existing(_ path: String) throws -> String {
        guard FileManager.default.fileExists(atPath: path) else {
            throw Missing(description: "\(path) is not built: run `make native-example` first")
        }
        return path
    }

    struct Missing: Error, CustomStringConvertible {
        var description: String
    }
}

/// Compiles C source into a shared library in `directory` with the system's `cc`: libraries
/// that are broken on purpose.
func compileLibrary(_ source: String, named name: String, in directory: String) async throws -> String {
    let sourcePath = directory + "/\(name).c"
    let libraryPath = directory + "/lib\(name).so"
    try source.write(toFile: sourcePath, atomically: true, encoding: .utf8)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [
        "cc", "-shared", "-fPIC", "-I", ExampleLibraries.packageRoot + "/include", "-o", libraryPath, sourcePath,
    ]
    try process.run()
    // Polled, not `waitUntilExit()`: that would block a thread of the concurrency pool (two on a
    // 2-core machine) and stall every test running meanwhile.
    let deadline = ContinuousClock.now.advanced(by: .seconds(120))
    while process.isRunning && ContinuousClock.now < deadline {
        try await Task.sleep(for: .milliseconds(10))
    }
    guard !process.isRunning, process.terminationStatus == 0 else {
        throw ExampleLibraries.Missing(description: "cc could not build \(libraryPath) (is a C compiler installed?)")
    }
    return libraryPath
}

/// A fresh directory under the system's temporary directory, removed by `cleanUp()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("native-plugins-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        path = base.path
    }

    func cleanUp() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
