/// A node together with the key path that leads to it, for errors.
struct Field {
    var node: YAMLNode
    var path: String

    func child(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
}

/// The keys of one mapping, after checking that each is known and appears once.
struct Fields {
    var mapping: Field
    var values: [String: Field]
    /// The source name, for errors.
    var source: String

    /// The value of `key`; `nil` when it is absent or null, which both mean "use the default".
    func optional(_ key: String) -> Field? {
        guard let field = values[key], !field.node.isNull else { return nil }
        return field
    }

    func required(_ key: String) throws(ConfigurationError) -> Field {
        if let field = values[key] { return field }
        // Point at the mapping that lacks the key: there is nothing else to point at.
        throw ConfigurationError(
            code: .missingKey,
            message: "missing required key",
            keyPath: mapping.child(key),
            line: mapping.node.mark.line,
            column: mapping.node.mark.column,
            source: source
        )
    }
}

/// Builds a `ClusterConfiguration` from a YAML node tree, throwing at the first problem.
struct ConfigurationDecoder {
    var source: String
    var baseDirectory: String

    func decode(_ root: YAMLNode?) throws(ConfigurationError) -> ClusterConfiguration {
        guard let root, !root.isNull else {
            throw ConfigurationError(
                code: .typeMismatch,
                message: "expected a mapping with the keys cluster, nodes and groups, found an empty document",
                keyPath: "",
                line: 1,
                column: 1,
                source: source
            )
        }
        let top = try fields(
            Field(node: root, path: ""),
            known: [
                "cluster", "data", "nodes", "groups", "raft", "storage", "http", "requestTimeout", "plugins", "tls",
                "auth",
            ]
        )
        let name = try string(top.required("cluster"))
        var data = "./data"
        if let field = top.optional("data") { data = try string(field) }
        var config = ClusterConfiguration(
            name: name,
            dataDirectory: resolve(data, against: baseDirectory),
            nodes: try decodeNodes(top.required("nodes")),
            groups: try decodeGroups(top.required("groups"))
        )
        if let field = top.optional("raft") { config.raft = try decodeRaft(field) }
        if let field = top.optional("storage") { config.storage = try decodeStorage(field) }
        if let field = top.optional("http") { config.http = try decodeHTTP(field) }
        if let field = top.optional("requestTimeout") { config.requestTimeout = try duration(field) }
        if let field = top.optional("plugins") { config.plugins = try decodePlugins(field) }
        if let field = top.optional("tls") { config.tls = try decodeTLS(field, nodes: config.nodes) }
        if let field = top.optional("auth") { config.auth = try decodeAuth(field) }
        return config
    }

    // MARK: Sections

    private func decodeNodes(_ field: Field) throws(ConfigurationError) -> [ClusterConfiguration.Node] {
        let items = try list(field)
        guard !items.isEmpty else {
            throw error(.emptyList, "at least one node is required", at: field)
        }
        var ids: [String: Field] = [:]
        var addresses: [ClusterConfiguration.Address: Field] = [:]
        var nodes: [ClusterConfiguration.Node] = []
        for item in items {
            let node = try fields(item, known: ["id", "peer", "client", "http", "join"])
            let idField = try node.required("id")
            let id = try identifier(idField, kind: "node id")
            if let first = ids[id] {
                throw error(
                    .duplicateNodeID,
                    "duplicate node id '\(id)', first used at \(first.node.mark)",
                    at: idField
                )
            }
            ids[id] = idField

            var endpoints: [ClusterConfiguration.Address] = []
            for key in ["peer", "client", "http"] {
                let addressField = try node.required(key)
                let endpoint = try address(addressField)
                // Host names compare without case; the same port on two different hosts is fine.
                let identity = ClusterConfiguration.Address(host: endpoint.host.lowercased(), port: endpoint.port)
                if let first = addresses[identity] {
                    throw error(
                        .duplicateAddress,
                        "address \(endpoint) is already used by \(first.path) at \(first.node.mark)",
                        at: addressField
                    )
                }
                addresses[identity] = addressField
                endpoints.append(endpoint)
            }
            var member = ClusterConfiguration.Node(
                id: id,
                numericID: UInt64(nodes.count + 1),
                peer: endpoints[0],
                client: endpoints[1],
                http: endpoints[2]
            )
            if let joinField = node.optional("join") { member.joins = try bool(joinField) }
            nodes.append(member)
        }
        guard nodes.contains(where: { !$0.joins }) else {
            throw error(
                .emptyList,
                "every node has join: true; a new cluster needs at least one founding node",
                at: field
            )
        }
        return nodes
    }

    private func decodeGroups(_ field: Field) throws(ConfigurationError) -> [ClusterConfiguration.Group] {
        let items = try list(field)
        guard !items.isEmpty else {
            throw error(.emptyList, "at least one group is required", at: field)
        }
        var names: [String: Field] = [:]
        var groups: [ClusterConfiguration.Group] = []
        for item in items {
            let group = try fields(item, known: ["name", "stateMachine", "maxraftstate"])
            let nameField = try group.required("name")
            let name = try identifier(nameField, kind: "group name")
            if let first = names[name] {
                throw error(
                    .duplicateGroupName,
                    "duplicate group name '\(name)', first used at \(first.node.mark)",
                    at: nameField
                )
            }
            names[name] = nameField
            let stateMachine = try string(group.required("stateMachine"))
            var maxRaftState: Int?
            if let limit = group.optional("maxraftstate") {
                maxRaftState = try snapshotThreshold(limit)
            }
            groups.append(.init(name: name, stateMachine: stateMachine, maxRaftState: maxRaftState))
        }
        return groups
    }

    private func decodePlugins(_ field: Field) throws(ConfigurationError) -> [ClusterConfiguration.Plugin] {
        var plugins: [ClusterConfiguration.Plugin] = []
        for item in try list(field) {
            let entry = try fields(item, known: ["native", "wasm", "fuel", "memory"])
            let kind: ClusterConfiguration.Plugin.Kind
            switch (entry.optional("native"), entry.optional("wasm")) {
            case (let native?, nil):
                if let extra = entry.optional("fuel") ?? entry.optional("memory") {
                    throw error(.conflictingOptions, "fuel and memory limit WebAssembly plugins only", at: extra)
                }
                kind = .native(path: resolve(try string(native, expected: "a path"), against: baseDirectory))
            case (nil, let wasm?):
                var fuel: UInt64 = 100_000_000
                if let field = entry.optional("fuel") {
                    let text = try string(field, expected: "a number of instructions")
                    guard let value = UInt64(text.filter { $0 != "_" }), value > 0 else {
                        throw error(
                            .invalidValue,
                            "fuel must be a positive number of instructions, found '\(text)'",
                            at: field
                        )
                    }
                    fuel = value
                }
                var memory = 16 << 20
                if let field = entry.optional("memory") {
                    memory = try positiveSize(field)
                    guard memory >= 64 << 10 else {
                        throw error(.invalidSize, "memory must be at least one WebAssembly page, 64KiB", at: field)
                    }
                }
                kind = .wasm(
                    path: resolve(try string(wasm, expected: "a path"), against: baseDirectory),
                    fuel: fuel,
                    memoryBytes: memory
                )
            case (nil, nil):
                throw error(
                    .missingKey,
                    "a plugin needs either native: path/to/lib.so or wasm: path/to/module.wasm",
                    at: item
                )
            case (_?, _?):
                throw error(.conflictingOptions, "a plugin is either native or wasm, not both", at: item)
            }
            plugins.append(
                ClusterConfiguration.Plugin(
                    kind: kind,
                    keyPath: item.path,
                    source: source,
                    line: item.node.mark.line,
                    column: item.node.mark.column
                )
            )
        }
        return plugins
    }

    private func decodeRaft(_ field: Field) throws(ConfigurationError) -> ClusterConfiguration.Raft {
        let section = try fields(
            field,
            known: [
                "heartbeat", "electionTimeout", "preVote", "checkQuorum", "leaseReads", "maxMessageSize",
                "maxInflightMessages", "coalesceAppends", "snapshotChunkSize", "quiesceAfter",
            ]
        )
        var raft = ClusterConfiguration.Raft()
        let heartbeat = section.optional("heartbeat")
        let electionTimeout = section.optional("electionTimeout")
        if let heartbeat { raft.heartbeat = try duration(heartbeat) }
        if let electionTimeout { raft.electionTimeout = try duration(electionTimeout) }
        if raft.electionTimeout <= raft.heartbeat {
            let reason =
                "followers start an election when they hear no heartbeat for this long, so it must span several "
                + "heartbeats (10 × heartbeat is typical)"
            if let electionTimeout {
                let heartbeatText = heartbeat.map(text) ?? "\(Scalars.format(raft.heartbeat)) by default"
                throw error(
                    .invalidTimeouts,
                    "\(text(electionTimeout)) must be greater than raft.heartbeat (\(heartbeatText)): \(reason)",
                    at: electionTimeout
                )
            } else if let heartbeat {
                throw error(
                    .invalidTimeouts,
                    "\(text(heartbeat)) must be less than raft.electionTimeout "
                        + "(\(Scalars.format(raft.electionTimeout)) by default): \(reason)",
                    at: heartbeat
                )
            }
        }
        if let value = section.optional("preVote") { raft.preVote = try bool(value) }
        if let value = section.optional("checkQuorum") { raft.checkQuorum = try bool(value) }
        if let value = section.optional("leaseReads") {
            raft.leaseReads = try bool(value)
            if raft.leaseReads && !raft.checkQuorum {
                throw error(
                    .conflictingOptions,
                    "lease reads require raft.checkQuorum: true; without it a leader cut off from the majority "
                        + "keeps serving reads after a new leader has accepted writes",
                    at: value
                )
            }
            // The lease is the election timeout less 10 % clock drift, a tick of rounding and a
            // tick of driver lag (RaftConfiguration.leaseTicks): below 5 heartbeats nothing is left.
            if raft.leaseReads && raft.electionTimeout < raft.heartbeat * 5 {
                throw error(
                    .conflictingOptions,
                    "lease reads need raft.electionTimeout of at least 5 × raft.heartbeat (here "
                        + "\(Scalars.format(raft.electionTimeout)) and \(Scalars.format(raft.heartbeat))): "
                        + "the lease must end safely before any follower may vote again",
                    at: value
                )
            }
        }
        if let value = section.optional("maxMessageSize") { raft.maxMessageSize = try positiveSize(value) }
        if let value = section.optional("maxInflightMessages") {
            raft.maxInflightMessages = try positiveInteger(value)
        }
        if let value = section.optional("coalesceAppends") { raft.coalesceAppends = try bool(value) }
        if let value = section.optional("snapshotChunkSize") { raft.snapshotChunkSize = try positiveSize(value) }
        if let value = section.optional("quiesceAfter") {
            raft.quiesceAfter = try string(value, expected: "a duration or off") == "off" ? nil : try duration(value)
        }
        return raft
    }

    private func decodeStorage(_ field: Field) throws(ConfigurationError) -> ClusterConfiguration.Storage {
        let section = try fields(field, known: ["fsync", "segmentSize"])
        var storage = ClusterConfiguration.Storage()
        if let value = section.optional("fsync") {
            let mode = try string(value)
            guard let fsync = ClusterConfiguration.FsyncMode(rawValue: mode) else {
                let modes = ClusterConfiguration.FsyncMode.allCases.map { "'\($0.rawValue)'" }
                throw error(
                    .unknownFsyncMode,
                    "unknown fsync mode '\(mode)'; expected \(modes.joined(separator: " or "))",
                    at: value
                )
            }
            storage.fsync = fsync
        }
        if let value = section.optional("segmentSize") { storage.segmentSize = try positiveSize(value) }
        return storage
    }

    private func decodeHTTP(_ field: Field) throws(ConfigurationError) -> ClusterConfiguration.HTTP {
        let section = try fields(field, known: ["maxBodySize"])
        var http = ClusterConfiguration.HTTP()
        if let value = section.optional("maxBodySize") { http.maxBodySize = try positiveSize(value) }
        return http
    }

    // MARK: Shapes

    /// The keys of a mapping, rejecting unknown and repeated keys in document order.
    func fields(_ field: Field, known: [String]) throws(ConfigurationError) -> Fields {
        guard case .mapping(let pairs) = field.node.content else {
            throw mismatch("a mapping", field)
        }
        var values: [String: Field] = [:]
        var keyMarks: [String: YAMLMark] = [:]
        for pair in pairs {
            guard case .scalar(let key, _) = pair.key.content else {
                throw mismatch("a string key", Field(node: pair.key, path: field.path))
            }
            let keyField = Field(node: pair.key, path: field.child(key))
            guard known.contains(key) else {
                let hint =
                    Scalars.closest(to: key, among: known).map { "did you mean '\($0)'?" }
                    ?? "expected one of: \(known.joined(separator: ", "))"
                throw error(.unknownKey, "unknown key; \(hint)", at: keyField)
            }
            if let first = keyMarks[key] {
                throw error(.duplicateKey, "duplicate key, first given at \(first)", at: keyField)
            }
            keyMarks[key] = pair.key.mark
            values[key] = Field(node: pair.value, path: keyField.path)
        }
        return Fields(mapping: field, values: values, source: source)
    }

    func list(_ field: Field) throws(ConfigurationError) -> [Field] {
        guard case .sequence(let items) = field.node.content else {
            throw mismatch("a list", field)
        }
        return items.enumerated().map { Field(node: $1, path: "\(field.path)[\($0)]") }
    }

    // MARK: Scalars

    /// The text of a scalar, for quoting a value back in a message.
    private func text(_ field: Field) -> String {
        guard case .scalar(let text, _) = field.node.content else { return "" }
        return text
    }

    /// The text of a non-empty scalar; `expected` names what the key wants, for the error.
    func string(_ field: Field, expected: String = "a string") throws(ConfigurationError) -> String {
        guard case .scalar(let text, _) = field.node.content, !field.node.isNull else {
            throw mismatch(expected, field)
        }
        guard !text.isEmpty else {
            throw error(.invalidValue, "must not be empty", at: field)
        }
        return text
    }

    func identifier(_ field: Field, kind: String) throws(ConfigurationError) -> String {
        let text = try string(field)
        guard Scalars.isIdentifier(text) else {
            throw error(
                .invalidValue,
                "invalid \(kind) '\(text)'; use letters, digits, '-', '_' and '.', not starting with '.' "
                    + "(it names a directory)",
                at: field
            )
        }
        return text
    }

    private func bool(_ field: Field) throws(ConfigurationError) -> Bool {
        switch try string(field, expected: "true or false") {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default: throw mismatch("true or false", field)
        }
    }

    private func positiveInteger(_ field: Field) throws(ConfigurationError) -> Int {
        guard let value = Int(try string(field, expected: "an integer")) else {
            throw mismatch("an integer", field)
        }
        guard value >= 1 else {
            throw error(.invalidValue, "must be at least 1", at: field)
        }
        return value
    }

    private func address(_ field: Field) throws(ConfigurationError) -> ClusterConfiguration.Address {
        let text = try string(field, expected: "an address (host:port)")
        switch Scalars.address(text) {
        case .valid(let host, let port):
            return ClusterConfiguration.Address(host: host, port: port)
        case .malformed:
            throw error(
                .invalidAddress,
                "invalid address '\(text)'; expected host:port or [ipv6]:port, such as 127.0.0.1:7101",
                at: field
            )
        case .portOutOfRange:
            throw error(.invalidAddress, "invalid address '\(text)'; the port must be in 1...65535", at: field)
        }
    }

    private func duration(_ field: Field) throws(ConfigurationError) -> Duration {
        let text = try string(field, expected: "a duration")
        guard let duration = Scalars.duration(text) else {
            let units = Scalars.durationUnits.map(\.unit).filter { $0 != "µs" }
            throw error(
                .invalidDuration,
                "invalid duration '\(text)'; expected a number with a unit (\(units.joined(separator: ", "))), "
                    + "such as 50ms or 1.5s",
                at: field
            )
        }
        guard duration > .zero else {
            throw error(.invalidDuration, "duration must be greater than 0", at: field)
        }
        return duration
    }

    private func size(_ field: Field) throws(ConfigurationError) -> Int {
        let text = try string(field, expected: "a size")
        guard let size = Scalars.size(text) else {
            let units = Scalars.sizeUnits.map(\.unit).filter { !$0.isEmpty && $0 != "B" }
            throw error(
                .invalidSize,
                "invalid size '\(text)'; expected bytes or a number with a unit (\(units.joined(separator: ", "))), "
                    + "such as 1MiB",
                at: field
            )
        }
        return size
    }

    private func positiveSize(_ field: Field) throws(ConfigurationError) -> Int {
        let size = try size(field)
        guard size > 0 else {
            throw error(.invalidSize, "size must be greater than 0", at: field)
        }
        return size
    }

    /// `maxraftstate`: a size, or `-1` for never; `nil` means never.
    private func snapshotThreshold(_ field: Field) throws(ConfigurationError) -> Int? {
        let text = try string(field, expected: "a size")
        if text == "-1" { return nil }
        guard !text.hasPrefix("-") else {
            throw error(.invalidSize, "must be -1 (never snapshot) or a size such as 1MiB, found '\(text)'", at: field)
        }
        return try size(field)
    }

    // MARK: Errors

    func mismatch(_ expected: String, _ field: Field) -> ConfigurationError {
        let found: String
        switch field.node.content {
        case .mapping: found = "a mapping"
        case .sequence: found = "a list"
        case .scalar(let text, _): found = field.node.isNull ? "null" : "'\(text)'"
        }
        return error(.typeMismatch, "expected \(expected), found \(found)", at: field)
    }

    func error(_ code: ConfigurationError.Code, _ message: String, at field: Field) -> ConfigurationError {
        ConfigurationError(
            code: code,
            message: message,
            keyPath: field.path,
            line: field.node.mark.line,
            column: field.node.mark.column,
            source: source
        )
    }
}
