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
                if let (line, column) = firstInvalidUTF8(bytes) {
                    throw ConfigurationError(
                        code: .syntax,
                        message: "the file is not valid UTF-8 (a byte sequence that no character encodes)",
                        keyPath: "",
                        line: line,
                        column: column,
                        source: path
                    )
                }
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

/// The 1-based line and column (in characters) of the first byte that is not part of valid
/// UTF-8, or `nil` when all of `bytes` is valid.
func firstInvalidUTF8(_ bytes: [UInt8]) -> (line: Int, column: Int)? {
    var line = 1
    var column = 1
    var index = 0
    while index < bytes.count {
        let lead = bytes[index]
        let length: Int
        switch lead {
        case 0x00...0x7F: length = 1
        case 0xC2...0xDF: length = 2
        case 0xE0...0xEF: length = 3
        case 0xF0...0xF4: length = 4
        default: return (line, column)
        }
        guard index + length <= bytes.count else { return (line, column) }
        for offset in 1..<length where bytes[index + offset] & 0xC0 != 0x80 {
            return (line, column)
        }
        if length > 1 {
            let second = bytes[index + 1]
            // Overlong forms, UTF-16 surrogates and code points past U+10FFFF.
            if (lead == 0xE0 && second < 0xA0) || (lead == 0xED && second > 0x9F)
                || (lead == 0xF0 && second < 0x90) || (lead == 0xF4 && second > 0x8F)
            {
                return (line, column)
            }
        }
        if lead == UInt8(ascii: "\n") {
            line += 1
            column = 1
        } else {
            column += 1
        }
        index += length
    }
    return nil
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
