package import ClusterConfig
package import Crypto
import SwiftASN1
package import X509

#if canImport(FoundationEssentials)
package import FoundationEssentials
#else
package import Foundation
#endif

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A certificate authority for development and tests: a P-256 key and a self-signed
/// certificate, which issues node and client certificates (`rafthost certs`).
package struct DevelopmentCA: Sendable {
    package var certificate: Certificate
    package var key: P256.Signing.PrivateKey

    /// A new CA valid from an hour ago for `days` days.
    package static func create(commonName: String, days: Int = 3650) throws -> DevelopmentCA {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName(commonName) }
        let now = Date()
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: Certificate.PublicKey(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600),
            notValidAfter: now.addingTimeInterval(Double(days) * 86400),
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            },
            issuerPrivateKey: Certificate.PrivateKey(key)
        )
        return DevelopmentCA(certificate: certificate, key: key)
    }

    /// The CA written by ``write(certificate:key:)`` before.
    package static func load(certificate: String, key: String) throws -> DevelopmentCA {
        let certificatePEM = try readText(certificate)
        let keyPEM = try readText(key)
        do {
            return DevelopmentCA(
                certificate: try Certificate(pemEncoded: certificatePEM),
                key: try P256.Signing.PrivateKey(pemRepresentation: keyPEM)
            )
        } catch {
            throw TLSMaterialError("cannot use the CA in \(certificate) and \(key): \(error)")
        }
    }

    /// A certificate and key for `identity`, valid from `notBefore` to `notAfter` (by default
    /// from an hour ago for `days` days). A node's certificate serves and dials (server and
    /// client authentication) and names `hosts` (IP addresses or DNS names) so that standard
    /// clients verify it; a client's certificate only authenticates clients, unless
    /// `serverAuthentication` says otherwise (as another CA's might: for tests).
    package func issue(
        _ identity: CertificateIdentity,
        hosts: [String] = [],
        days: Int = 825,
        notBefore: Date? = nil,
        notAfter: Date? = nil,
        serverAuthentication: Bool? = nil
    ) throws -> (certificate: Certificate, key: P256.Signing.PrivateKey) {
        let key = P256.Signing.PrivateKey()
        let commonName: String
        let serves: Bool
        switch identity {
        case .node(let id):
            commonName = id
            serves = serverAuthentication ?? true
        case .client(let name):
            commonName = name
            serves = serverAuthentication ?? false
        }
        let usages: [ExtendedKeyUsage.Usage] = serves ? [.serverAuth, .clientAuth] : [.clientAuth]
        var names: [GeneralName] = [.uniformResourceIdentifier(identity.uri)]
        for host in hosts {
            if let address = Self.ipAddress(host) {
                names.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(address))))
            } else {
                names.append(.dnsName(host))
            }
        }
        let now = Date()
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: Certificate.PublicKey(key.publicKey),
            notValidBefore: notBefore ?? now.addingTimeInterval(-3600),
            notValidAfter: notAfter ?? now.addingTimeInterval(Double(days) * 86400),
            issuer: self.certificate.subject,
            subject: try DistinguishedName { CommonName(commonName) },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true, keyAgreement: true))
                try ExtendedKeyUsage(usages)
                SubjectAlternativeNames(names)
            },
            issuerPrivateKey: Certificate.PrivateKey(self.key)
        )
        return (certificate, key)
    }

    /// Writes the CA's certificate and key (the key readable by its owner only).
    package func write(certificate: String, key: String) throws {
        try Self.write(certificate: self.certificate, key: self.key, certificatePath: certificate, keyPath: key)
    }

    /// Writes a certificate and its key as PEM files, creating the directories.
    package static func write(
        certificate: Certificate,
        key: P256.Signing.PrivateKey,
        certificatePath: String,
        keyPath: String
    ) throws {
        try writeText(try certificate.serializeAsPEM().pemString + "\n", to: certificatePath, mode: 0o644)
        try writeText(key.pemRepresentation + "\n", to: keyPath, mode: 0o600)
    }

    static func ipAddress(_ host: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }

    static func readText(_ path: String) throws -> String {
        guard let file = fopen(path, "rb") else {
            throw TLSMaterialError("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            bytes.append(contentsOf: chunk[..<count])
            if count < chunk.count { break }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Writes `text` to a temporary file and renames it over `path`, so that a node reloading at
    /// the same moment reads the old file or the new one, never half of one.
    static func writeText(_ text: String, to path: String, mode: mode_t) throws {
        try makeDirectories(containing: path)
        let temporary = path + ".tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, mode)
        guard descriptor >= 0 else {
            throw TLSMaterialError("cannot write \(temporary): \(String(cString: strerror(errno)))")
        }
        let bytes = Array(text.utf8)
        #if canImport(Glibc)
        let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        #else
        let written = bytes.withUnsafeBytes { Darwin.write(descriptor, $0.baseAddress, $0.count) }
        #endif
        close(descriptor)
        guard written == bytes.count, rename(temporary, path) == 0 else {
            throw TLSMaterialError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }

    private static func makeDirectories(containing path: String) throws {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return }
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path[..<slash].split(separator: "/") {
            prefix += component + "/"
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw TLSMaterialError("cannot create the directory \(prefix): \(String(cString: strerror(errno)))")
            }
        }
    }
}

/// What `rafthost certs` writes for a configuration.
package struct ClusterCertificates {
    /// One file written, for the command's report.
    package struct Written: Sendable, Hashable {
        package var what: String
        package var certificate: String
        package var key: String
    }

    /// Creates the CA of `configuration.tls` unless its files exist, then a certificate and key
    /// for every node (naming its peer, client and HTTP hosts, and `localhost`) and for every
    /// `auth` client that has `cert` and `key` paths. Existing node and client files are
    /// replaced: run it again to renew them.
    package static func create(for configuration: ClusterConfiguration, days: Int = 825) throws -> [Written] {
        guard let tls = configuration.tls else {
            throw TLSMaterialError("the configuration has no tls section: nothing to create")
        }
        var written: [Written] = []
        let ca: DevelopmentCA
        if access(tls.caFile, R_OK) == 0 && access(tls.caKeyFile, R_OK) == 0 {
            ca = try DevelopmentCA.load(certificate: tls.caFile, key: tls.caKeyFile)
        } else {
            ca = try DevelopmentCA.create(commonName: "RaftHost development CA (\(configuration.name))")
            try ca.write(certificate: tls.caFile, key: tls.caKeyFile)
            written.append(Written(what: "CA", certificate: tls.caFile, key: tls.caKeyFile))
        }
        for node in configuration.nodes {
            guard let files = tls.nodes[node.id] else { continue }
            var hosts = ["localhost"]
            for host in [node.peer.host, node.client.host, node.http.host] where !hosts.contains(host) {
                hosts.append(host)
            }
            let issued = try ca.issue(.node(node.id), hosts: hosts, days: days)
            try DevelopmentCA.write(
                certificate: issued.certificate,
                key: issued.key,
                certificatePath: files.certificate,
                keyPath: files.key
            )
            written.append(Written(what: "node \(node.id)", certificate: files.certificate, key: files.key))
        }
        for client in configuration.auth?.clients ?? [] {
            guard let files = client.certificate else { continue }
            let issued = try ca.issue(.client(client.name), days: days)
            try DevelopmentCA.write(
                certificate: issued.certificate,
                key: issued.key,
                certificatePath: files.certificate,
                keyPath: files.key
            )
            written.append(Written(what: "client \(client.name)", certificate: files.certificate, key: files.key))
        }
        return written
    }
}
