public import ClusterConfig
package import NIOSSL
import Synchronization

/// A TLS context built from files, rebuilt by ``reload()`` and swapped atomically.
///
/// `NIOSSLContext` is immutable: a connection keeps the context it was set up with until it
/// ends, so ``reload()`` changes what new connections use and lets the existing ones finish.
/// A reload that fails (a missing file, a key that does not match) keeps the current context.
package final class TLSContextSource: Sendable {
    private let make: @Sendable () throws -> NIOSSLContext
    private let current: Mutex<NIOSSLContext>

    /// Builds the first context at once, so that a bad file fails here and not on a connection.
    package init(_ make: @escaping @Sendable () throws -> NIOSSLContext) throws {
        self.make = make
        self.current = Mutex(try make())
    }

    /// The context for the next connection.
    package var context: NIOSSLContext { current.withLock { $0 } }

    /// Builds a new context from the files and makes it the one new connections use.
    package func reload() throws {
        let fresh = try make()
        current.withLock { $0 = fresh }
    }

    /// Builds a context without installing it, so that several sources can be checked before
    /// any is swapped.
    package func prepare() throws -> NIOSSLContext { try make() }

    /// Installs a context ``prepare()`` built.
    package func install(_ context: NIOSSLContext) {
        current.withLock { $0 = context }
    }
}

/// The TLS material of one node: what its peer port accepts with (mutual TLS), what it dials
/// peers and forwards client requests with (its node certificate), and what its client and
/// HTTP ports serve (its node certificate, asking clients for theirs as configured).
public final class NodeTLS: Sendable {
    /// The peer port: a certificate from the CA is required.
    package let peerServer: TLSContextSource
    /// Dialling peers and the client ports of other nodes: presents the node certificate.
    package let client: TLSContextSource
    /// The client and HTTP ports.
    package let clientServer: TLSContextSource
    /// This node's id.
    package let node: String

    /// Loads the node's certificate and key and the CA named by `configuration.tls`.
    ///
    /// - Throws: `TLSMaterialError` naming the file that cannot be used.
    public init(configuration: ClusterConfiguration.TLS, node: String, requestClientCertificates: Bool = false)
        throws
    {
        guard let files = configuration.nodes[node] else {
            throw TLSMaterialError("tls.nodes has no certificate for node \(node)")
        }
        let ca = configuration.caFile
        var mode = configuration.clientCertificates
        if requestClientCertificates && mode == .none { mode = .optional }
        self.node = node
        self.peerServer = try TLSContextSource {
            try TLSMaterial.serverContext(ca: ca, files: files, clients: .require)
        }
        self.client = try TLSContextSource {
            try TLSMaterial.clientContext(ca: ca, files: files)
        }
        self.clientServer = try TLSContextSource { [mode] in
            try TLSMaterial.serverContext(ca: ca, files: files, clients: mode)
        }
    }

    /// Reads the files again; new connections use the new material, existing ones finish with
    /// the old. All or nothing: when any file cannot be used, nothing changes.
    public func reload() throws {
        let sources = [peerServer, client, clientServer]
        let contexts = try sources.map { try $0.prepare() }
        for (source, context) in zip(sources, contexts) {
            source.install(context)
        }
    }
}

/// A certificate, key or CA file that cannot be used.
public struct TLSMaterialError: Error, Sendable, CustomStringConvertible {
    public var description: String

    package init(_ description: String) {
        self.description = description
    }
}

/// Builds NIOSSL contexts from PEM files.
package enum TLSMaterial {
    /// A server context with the node's certificate; clients' certificates are checked against
    /// the CA as `clients` says (on the peer port: `.require`).
    package static func serverContext(
        ca: String,
        files: ClusterConfiguration.CertificateFiles,
        clients: ClusterConfiguration.ClientCertificateMode
    ) throws -> NIOSSLContext {
        let chain = try certificates(files.certificate)
        let key = try privateKey(files.key)
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) },
            privateKey: .privateKey(key)
        )
        configuration.minimumTLSVersion = .tlsv12
        switch clients {
        case .none:
            configuration.certificateVerification = .none
        case .optional:
            configuration.certificateVerification = .optionalVerification
            configuration.trustRoots = .certificates(try certificates(ca))
            configuration.sendCANameList = true
        case .require:
            configuration.certificateVerification = .noHostnameVerification
            configuration.trustRoots = .certificates(try certificates(ca))
            configuration.sendCANameList = true
        }
        return try context(configuration, files: "\(files.certificate) and \(files.key)")
    }

    /// A client context that trusts only the CA and presents `files` when given. Host names are
    /// not checked: the cluster's CA is private, and identities are the certificates' URIs.
    package static func clientContext(ca: String, files: ClusterConfiguration.CertificateFiles?) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.certificateVerification = .noHostnameVerification
        configuration.trustRoots = .certificates(try certificates(ca))
        if let files {
            configuration.certificateChain = try certificates(files.certificate).map { .certificate($0) }
            configuration.privateKey = .privateKey(try privateKey(files.key))
        }
        return try context(configuration, files: files.map { "\($0.certificate) and \($0.key)" } ?? ca)
    }

    package static func certificates(_ path: String) throws -> [NIOSSLCertificate] {
        let loaded: [NIOSSLCertificate]
        do {
            loaded = try NIOSSLCertificate.fromPEMFile(path)
        } catch {
            throw TLSMaterialError("cannot read the certificate file \(path): \(error)")
        }
        guard !loaded.isEmpty else { throw TLSMaterialError("no certificate in \(path)") }
        return loaded
    }

    package static func privateKey(_ path: String) throws -> NIOSSLPrivateKey {
        do {
            return try NIOSSLPrivateKey(file: path, format: .pem)
        } catch {
            throw TLSMaterialError("cannot read the private key file \(path): \(error)")
        }
    }

    private static func context(_ configuration: TLSConfiguration, files: String) throws -> NIOSSLContext {
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw TLSMaterialError("cannot use \(files): \(error)")
        }
    }
}
