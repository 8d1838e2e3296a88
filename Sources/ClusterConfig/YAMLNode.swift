import CYAML

/// A 1-based line and column in the YAML text.
struct YAMLMark: Hashable, Sendable, CustomStringConvertible {
    var line: Int
    var column: Int

    init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    init(_ mark: yaml_mark_t) {
        // libyaml counts from 0.
        self.init(line: Int(mark.line) + 1, column: Int(mark.column) + 1)
    }

    var description: String { "\(line):\(column)" }
}

/// One node of a YAML document with the position where it starts, so that every key and value
/// can be reported by line and column. Scalars stay untyped text: the configuration decoder
/// decides what a scalar means from the key it belongs to.
struct YAMLNode: Sendable {
    struct Pair: Sendable {
        var key: YAMLNode
        var value: YAMLNode
    }

    enum Content: Sendable {
        /// `plain` is false for quoted, block and explicitly tagged scalars, which are never null.
        case scalar(String, plain: Bool)
        case sequence([YAMLNode])
        /// Pairs in document order; duplicate keys are kept for the decoder to report.
        case mapping([Pair])
    }

    var content: Content
    var mark: YAMLMark

    /// `~`, `null` and an empty plain value (YAML 1.2 core schema).
    var isNull: Bool {
        guard case .scalar(let text, plain: true) = content else { return false }
        return text.isEmpty || text == "~" || text == "null" || text == "Null" || text == "NULL"
    }
}

/// What libyaml reports for text that is not well-formed YAML.
struct YAMLSyntaxError: Error {
    var message: String
    var mark: YAMLMark
}

enum YAMLParser {
    /// Parses one YAML document into a node tree; `nil` for a stream without any document.
    /// Anchors and aliases are resolved by copying the anchored node; a second document is an
    /// error because a configuration file holds exactly one.
    static func parse(_ text: String) throws(YAMLSyntaxError) -> YAMLNode? {
        // libyaml reads from this buffer until the parser is deleted. The trailing NUL keeps the
        // pointer valid for an empty text.
        var bytes = Array(text.utf8)
        bytes.append(0)
        let result = bytes.withUnsafeBufferPointer { buffer -> Result<YAMLNode?, YAMLSyntaxError> in
            var parser = yaml_parser_t()
            guard yaml_parser_initialize(&parser) == 1 else {
                return .failure(YAMLSyntaxError(message: "cannot initialize libyaml", mark: .init(line: 1, column: 1)))
            }
            defer { yaml_parser_delete(&parser) }
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count - 1)
            var builder = TreeBuilder()
            do throws(YAMLSyntaxError) {
                return .success(try builder.run(&parser))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}

/// Turns libyaml's event stream into a `YAMLNode` tree with an explicit stack of open
/// collections, so deeply nested input cannot overflow the call stack.
private struct TreeBuilder {
    /// A collection whose end event has not arrived yet.
    private struct Open {
        var mark: YAMLMark
        var anchor: String?
        var isMapping: Bool
        var items: [YAMLNode] = []
        var pairs: [YAMLNode.Pair] = []
        var pendingKey: YAMLNode?

        var node: YAMLNode {
            YAMLNode(content: isMapping ? .mapping(pairs) : .sequence(items), mark: mark)
        }
    }

    private var stack: [Open] = []
    private var anchors: [String: YAMLNode] = [:]
    private var root: YAMLNode?
    private var documents = 0

    mutating func run(_ parser: inout yaml_parser_t) throws(YAMLSyntaxError) -> YAMLNode? {
        var event = yaml_event_t()
        while true {
            guard yaml_parser_parse(&parser, &event) == 1 else {
                throw Self.syntaxError(parser)
            }
            defer { yaml_event_delete(&event) }
            let mark = YAMLMark(event.start_mark)
            switch event.type {
            case YAML_STREAM_END_EVENT:
                return root
            case YAML_DOCUMENT_START_EVENT:
                documents += 1
                if documents > 1 {
                    throw YAMLSyntaxError(
                        message: "expected a single YAML document, found a second one",
                        mark: mark
                    )
                }
            case YAML_SCALAR_EVENT:
                let scalar = event.data.scalar
                let text = Self.string(scalar.value, length: Int(scalar.length))
                let plain = scalar.style == YAML_PLAIN_SCALAR_STYLE && scalar.tag == nil
                add(YAMLNode(content: .scalar(text, plain: plain), mark: mark), anchor: Self.string(scalar.anchor))
            case YAML_SEQUENCE_START_EVENT:
                stack.append(Open(mark: mark, anchor: Self.string(event.data.sequence_start.anchor), isMapping: false))
            case YAML_MAPPING_START_EVENT:
                stack.append(Open(mark: mark, anchor: Self.string(event.data.mapping_start.anchor), isMapping: true))
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                let closed = stack.removeLast()
                add(closed.node, anchor: closed.anchor)
            case YAML_ALIAS_EVENT:
                let name = Self.string(event.data.alias.anchor) ?? ""
                guard let target = anchors[name] else {
                    throw YAMLSyntaxError(message: "found undefined alias '\(name)'", mark: mark)
                }
                add(target, anchor: nil)
            default:
                // Stream start and document end carry nothing the tree needs.
                break
            }
        }
    }

    private mutating func add(_ node: YAMLNode, anchor: String?) {
        if let anchor {
            anchors[anchor] = node
        }
        guard !stack.isEmpty else {
            root = node
            return
        }
        // Mutating the top in place keeps appends linear (no copy of the arrays).
        let top = stack.count - 1
        if !stack[top].isMapping {
            stack[top].items.append(node)
        } else if let key = stack[top].pendingKey {
            stack[top].pairs.append(YAMLNode.Pair(key: key, value: node))
            stack[top].pendingKey = nil
        } else {
            stack[top].pendingKey = node
        }
    }

    private static func syntaxError(_ parser: yaml_parser_t) -> YAMLSyntaxError {
        var message = parser.problem.map { String(cString: $0) } ?? "invalid YAML"
        if let context = parser.context {
            message += " (\(String(cString: context)) at \(YAMLMark(parser.context_mark)))"
        }
        return YAMLSyntaxError(message: message, mark: YAMLMark(parser.problem_mark))
    }

    private static func string(_ bytes: UnsafeMutablePointer<yaml_char_t>?, length: Int) -> String {
        guard let bytes else { return "" }
        return String(decoding: UnsafeBufferPointer(start: bytes, count: length), as: UTF8.self)
    }

    private static func string(_ bytes: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        bytes.map { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
    }
}
