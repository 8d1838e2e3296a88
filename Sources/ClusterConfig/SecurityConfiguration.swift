extension ClusterConfiguration {
    /// The `tls` section: with it, every port of every node speaks TLS.
    ///
    /// ```yaml
    /// tls:
    ///   ca: certs/ca.pem                  # the CA every certificate of the cluster is checked against
    ///   caKey: certs/ca-key.pem           # only `rafthost certs` reads or writes it
    ///   clientCertificates: optional      # none | optional | require, on the client and HTTP ports
    ///   nodes:
    ///     n1: {cert: certs/n1.pem, key: certs/n1-key.pem}
    /// ```
    ///
    /// The peer port always requires a certificate from the CA that names the node id the peer
    /// claims (`urn:rafthost:node:<id>` as a URI subject alternative name). Paths resolve against
    /// the directory of the configuration file.
    public struct TLS: Sendable, Hashable {
        /// `ca` (required): PEM file of the certificate authority that signs every certificate of
        /// the cluster, nodes' and clients'.
        public var caFile: String
        /// `caKey` (default `ca` with `-key` before the extension): PEM file of the CA's private
        /// key. Nodes never read it; `rafthost certs` writes it with the CA, and reads it to sign.
        public var caKeyFile: String
        /// `clientCertificates` (default `optional`): whether the client and HTTP ports ask a
        /// client for a certificate.
        public var clientCertificates: ClientCertificateMode
        /// `nodes` (required, one entry per node): each node's certificate and key.
        public var nodes: [String: CertificateFiles]

        public init(
            caFile: String,
            caKeyFile: String,
            clientCertificates: ClientCertificateMode = .optional,
            nodes: [String: CertificateFiles]
        ) {
            self.caFile = caFile
            self.caKeyFile = caKeyFile
            self.clientCertificates = clientCertificates
            self.nodes = nodes
        }
    }

    /// A certificate and its private key, both PEM files.
    public struct CertificateFiles: Sendable, Hashable {
        /// `cert`: the certificate (PEM, the leaf first if it holds a chain).
        public var certificate: String
        /// `key`: its private key (PEM).
        public var key: String

        public init(certificate: String, key: String) {
            self.certificate = certificate
            self.key = key
        }
    }

    /// `tls.clientCertificates`: what the client and HTTP ports ask of a client.
    public enum ClientCertificateMode: String, Sendable, Hashable, CaseIterable {
        /// No certificate is asked for: clients authenticate with tokens, if at all.
        case none
        /// A certificate is asked for and checked against the CA if the client sends one.
        case optional
        /// A connection without a valid certificate from the CA is refused.
        case require
    }

    /// The `auth` section: with it, every request on the client and HTTP ports needs a known
    /// client, identified by its certificate (`urn:rafthost:client:<name>`) or a bearer token,
    /// and acts within the client's role.
    ///
    /// ```yaml
    /// auth:
    ///   clients:
    ///     - name: admin
    ///       role: admin
    ///       cert: certs/admin.pem           # `rafthost certs` creates it and its key
    ///       key: certs/admin-key.pem
    ///     - name: dashboard
    ///       role: read
    ///       tokenSHA256: 6b3a55e0261b0304143f805a24924d0c1c44524821305f31d9277843b8a10f4e
    /// ```
    public struct Auth: Sendable, Hashable {
        /// `clients` (required, at least one).
        public var clients: [Client]

        public init(clients: [Client]) {
            self.clients = clients
        }
    }

    /// One entry of `auth.clients`.
    public struct Client: Sendable, Hashable {
        /// `name` (required, unique): what a client certificate names as
        /// `urn:rafthost:client:<name>`, and what the logs call the client.
        public var name: String
        /// `role` (required): `read`, `write` or `admin`.
        public var role: Role
        /// `tokenSHA256` (optional): the SHA-256 of the client's bearer token, 64 hex digits. The
        /// token itself is never stored.
        public var tokenSHA256: [UInt8]?
        /// `cert` and `key` (optional, together): where `rafthost certs` writes the client's
        /// certificate and key, and where `raftctl --cert/--key` finds them.
        public var certificate: CertificateFiles?

        public init(name: String, role: Role, tokenSHA256: [UInt8]? = nil, certificate: CertificateFiles? = nil) {
            self.name = name
            self.role = role
            self.tokenSHA256 = tokenSHA256
            self.certificate = certificate
        }
    }

    /// What a client may do: each role includes the ones before it.
    public enum Role: String, Sendable, Hashable, CaseIterable, Comparable {
        /// Queries, status and metrics.
        case read
        /// Also commands.
        case write
        /// Also membership, leader transfer, snapshots and plugins.
        case admin

        private var rank: Int {
            switch self {
            case .read: 0
            case .write: 1
            case .admin: 2
            }
        }

        public static func < (lhs: Role, rhs: Role) -> Bool { lhs.rank < rhs.rank }
    }
}

extension ConfigurationDecoder {
    func decodeTLS(
        _ field: Field,
        nodes: [ClusterConfiguration.Node]
    ) throws(ConfigurationError) -> ClusterConfiguration.TLS {
        let section = try fields(field, known: ["ca", "caKey", "clientCertificates", "nodes"])
        let ca = try path(section.required("ca"))
        var caKey = ca.hasSuffix(".pem") ? String(ca.dropLast(4)) + "-key.pem" : ca + "-key"
        if let value = section.optional("caKey") { caKey = try path(value) }
        var mode = ClusterConfiguration.ClientCertificateMode.optional
        if let value = section.optional("clientCertificates") {
            let text = try string(value)
            guard let parsed = ClusterConfiguration.ClientCertificateMode(rawValue: text) else {
                throw error(.invalidValue, "unknown mode '\(text)'; expected none, optional or require", at: value)
            }
            mode = parsed
        }
        let nodesField = try section.required("nodes")
        let known = nodes.map(\.id)
        let entries = try fields(nodesField, known: known)
        var files: [String: ClusterConfiguration.CertificateFiles] = [:]
        for id in known {
            guard let entry = entries.values[id] else {
                throw error(.missingKey, "node \(id) has no certificate; every node needs cert and key", at: nodesField)
            }
            files[id] = try certificateFiles(entry)
        }
        return ClusterConfiguration.TLS(caFile: ca, caKeyFile: caKey, clientCertificates: mode, nodes: files)
    }

    func decodeAuth(_ field: Field) throws(ConfigurationError) -> ClusterConfiguration.Auth {
        let section = try fields(field, known: ["clients"])
        let listField = try section.required("clients")
        let items = try list(listField)
        guard !items.isEmpty else {
            throw error(.emptyList, "at least one client is required", at: listField)
        }
        var clients: [ClusterConfiguration.Client] = []
        var names: [String: Field] = [:]
        for item in items {
            let entry = try fields(item, known: ["name", "role", "tokenSHA256", "cert", "key"])
            let nameField = try entry.required("name")
            let name = try identifier(nameField, kind: "client name")
            if let first = names[name] {
                throw error(.invalidValue, "duplicate client name '\(name)', first used at \(first.node.mark)", at: nameField)
            }
            names[name] = nameField
            let roleField = try entry.required("role")
            let roleText = try string(roleField)
            guard let role = ClusterConfiguration.Role(rawValue: roleText) else {
                throw error(.invalidValue, "unknown role '\(roleText)'; expected read, write or admin", at: roleField)
            }
            var client = ClusterConfiguration.Client(name: name, role: role)
            if let value = entry.optional("tokenSHA256") {
                let text = try string(value)
                guard let digest = Self.hexBytes(text), digest.count == 32 else {
                    throw error(
                        .invalidValue,
                        "expected the SHA-256 of the token as 64 hex digits (printf %s TOKEN | sha256sum)",
                        at: value
                    )
                }
                client.tokenSHA256 = digest
            }
            switch (entry.optional("cert"), entry.optional("key")) {
            case (let cert?, let key?):
                client.certificate = .init(certificate: try path(cert), key: try path(key))
            case (nil, nil):
                break
            case (let one?, nil), (nil, let one?):
                throw error(.conflictingOptions, "cert and key go together", at: one)
            }
            clients.append(client)
        }
        return ClusterConfiguration.Auth(clients: clients)
    }

    private func certificateFiles(_ field: Field) throws(ConfigurationError) -> ClusterConfiguration.CertificateFiles {
        let entry = try fields(field, known: ["cert", "key"])
        return .init(certificate: try path(entry.required("cert")), key: try path(entry.required("key")))
    }

    private func path(_ field: Field) throws(ConfigurationError) -> String {
        resolve(try string(field, expected: "a path"), against: baseDirectory)
    }

    static func hexBytes(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        func value(_ digit: UInt8) -> UInt8? {
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var index = 0
        while index < digits.count {
            guard let high = value(digits[index]), let low = value(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }
}
