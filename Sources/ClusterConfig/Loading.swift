#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension ClusterConfiguration {
    /// Reads and validates the configuration file at `path`.
    ///
    /// A relative `data` directory resolves against the directory that holds the file (made
    /// absolute with the current directory when `path` is relative), so the same file means the
    /// same directories whatever the working directory of the program that loads it.
    ///
    /// - Throws: ``ConfigurationError`` with code ``ConfigurationError/Code/unreadableFile`` when
    ///   the file cannot be read, otherwise the first problem ``parse(yaml:source:baseDirectory:)``
    ///   finds. Errors name the file as `path`.
    public static func load(path: String) throws(ConfigurationError) -> ClusterConfiguration {
        let text = try readFile(path)
        return try parse(yaml: text, source: path, baseDirectory: absolute(directory(of: path)))
    }

    /// Parses and validates configuration text.
    ///
    /// - Parameters:
    ///   - yaml: the contents of a `cluster.yaml`.
    ///   - source: the name errors give the text, normally its file path.
    ///   - baseDirectory: what a relative `data` directory resolves against; the current
    ///     directory when `nil`.
    /// - Throws: ``ConfigurationError`` for the first problem found: YAML syntax first, then the
    ///   keys of each mapping (unknown or repeated), then each value in the order of the sections
    ///   above, checks between values (duplicates, timeouts, options) as soon as both are known.
    public static func parse(
        yaml: String,
        source: String = "cluster.yaml",
        baseDirectory: String? = nil
    ) throws(ConfigurationError) -> ClusterConfiguration {
        let root: YAMLNode?
        do {
            root = try YAMLParser.parse(yaml)
        } catch {
            throw ConfigurationError(
                code: .syntax,
                message: "invalid YAML: \(error.message)",
                keyPath: "",
                line: error.mark.line,
                column: error.mark.column,
                source: source
            )
        }
        let decoder = ConfigurationDecoder(source: source, baseDirectory: baseDirectory ?? currentDirectory())
        return try decoder.decode(root)
    }

    private static func readFile(_ path: String) throws(ConfigurationError) -> String {
        func failure() -> ConfigurationError {
            let reason = String(cString: strerror(errno))
            return ConfigurationError(
                code: .unreadableFile,
                message: "cannot read the configuration file: \(reason)",
                keyPath: "",
                line: nil,
                column: nil,
                source: path
            )
        }
        guard let file = fopen(path, "rb") else { throw failure() }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            bytes.append(contentsOf: chunk[..<count])
            if count < chunk.count {
                // A short read is the end of the file or an error (EISDIR for a directory).
                if ferror(file) != 0 { throw failure() }
                return String(decoding: bytes, as: UTF8.self)
            }
        }
    }

    private static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    private static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : resolve(path, against: currentDirectory())
    }

    private static func currentDirectory() -> String {
        guard let buffer = getcwd(nil, 0) else { return "." }
        defer { free(buffer) }
        return String(cString: buffer)
    }
}

/// `path` made absolute against `base` unless it already is, without `.` components or repeated
/// slashes. `..` stays: resolving it textually would be wrong across symbolic links.
func resolve(_ path: String, against base: String) -> String {
    let joined = path.hasPrefix("/") ? path : base + "/" + path
    let components = joined.split(separator: "/").filter { $0 != "." }
    let body = components.joined(separator: "/")
    if joined.hasPrefix("/") {
        return "/" + body
    }
    return body.isEmpty ? "." : body
}
