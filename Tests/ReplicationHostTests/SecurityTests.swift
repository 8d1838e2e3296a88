import ClusterConfig
import Foundation
import KeyValueClient
import KeyValueStore
import LockService
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOTLS
import RaftClient
import RaftSecurity
import StateMachineAPI
import Synchronization
import Testing

@testable import ReplicationHost

/// One node on loopback (NIO transport, ports chosen by the system) with the `tls` and `auth`
/// sections a test asks for, its certificates made by `ClusterCertificates` in a temporary
/// directory.
private struct SecureNode {
    let directory: TemporaryDirectory
    let configuration: ClusterConfiguration
    let node: RaftNode
    let endpoints: RaftNode.Endpoints
    let recorder: LogRecorder
    let task: Task<Void, any Error>

    var certs: String { directory.path + "/certs" }
    var caFile: String { certs + "/ca.pem" }

    static let readerToken = "reader-secret"
    static let writerToken = "writer-secret"

    /// `servingAs`: the name of another certificate of the directory (`admin`) that the node
    /// serves instead of its own.
    static func start(
        tls: Bool,
        auth: Bool,
        clientCertificates: ClusterConfiguration.ClientCertificateMode = .optional,
        servingAs: String? = nil
    ) async throws -> SecureNode {
        let directory = try TemporaryDirectory()
        let loopback = ClusterConfiguration.Address(host: "127.0.0.1", port: 0)
        var configuration = ClusterConfiguration(
            name: "secure",
            dataDirectory: directory.path + "/data",
            nodes: [.init(id: "n1", numericID: 1, peer: loopback, client: loopback, http: loopback)],
            groups: [.init(name: "kv", stateMachine: KeyValueStore.name)],
            raft: .init(heartbeat: .milliseconds(20), electionTimeout: .milliseconds(200)),
            storage: .init(fsync: .never),
            requestTimeout: .seconds(20)
        )
        let certs = directory.path + "/certs"
        if tls {
            configuration.tls = .init(
                caFile: certs + "/ca.pem",
                caKeyFile: certs + "/ca-key.pem",
                clientCertificates: clientCertificates,
                nodes: ["n1": .init(certificate: certs + "/n1.pem", key: certs + "/n1-key.pem")]
            )
        }
        if auth {
            configuration.auth = .init(clients: [
                .init(name: "admin", role: .admin, certificate: .init(certificate: certs + "/admin.pem", key: certs + "/admin-key.pem")),
                .init(name: "reader", role: .read, tokenSHA256: digest(readerToken)),
                .init(name: "writer", role: .write, tokenSHA256: digest(writerToken)),
            ])
        }
        if tls {
            _ = try ClusterCertificates.create(for: configuration)
            if servingAs == "impostor" {
                let ca = try DevelopmentCA.load(certificate: certs + "/ca.pem", key: certs + "/ca-key.pem")
                let (certificate, key) = try ca.issue(.client("impostor"), hosts: ["127.0.0.1"], serverAuthentication: true)
                try DevelopmentCA.write(
                    certificate: certificate,
                    key: key,
                    certificatePath: certs + "/impostor.pem",
                    keyPath: certs + "/impostor-key.pem"
                )
            }
            if let servingAs {
                configuration.tls?.nodes["n1"] = .init(certificate: certs + "/\(servingAs).pem", key: certs + "/\(servingAs)-key.pem")
            }
        }
        let recorder = LogRecorder()
        let node = try RaftNode(
            configuration: configuration,
            node: "n1",
            registry: try StateMachineRegistry([KeyValueStore.self, LockService.self]),
            metricsFactory: RaftHostMetrics.prometheusFactory(),
            logger: recorder.logger(label: "n1")
        )
        let endpoints = try await node.start()
        let task = Task { try await node.run() }
        await recorder.leaderElected(in: "kv")
        return SecureNode(
            directory: directory,
            configuration: configuration,
            node: node,
            endpoints: endpoints,
            recorder: recorder,
            task: task
        )
    }

    static func digest(_ token: String) -> [UInt8] {
        let hex = Array(AccessPolicy.tokenDigest(token).utf8)
        return stride(from: 0, to: hex.count, by: 2).map { UInt8(String(decoding: hex[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
    }

    func stop() async {
        node.shutdown()
        try? await task.value
        directory.cleanUp()
    }

    /// A client of the kv group over the native protocol.
    func client(token: String? = nil, certificate: String? = nil) throws -> KeyValueClient {
        var configuration = RaftClient.Configuration(attemptTimeout: .seconds(2), timeout: .seconds(10))
        configuration.token = token
        if self.configuration.tls != nil {
            configuration.tls = try ClientTLS(
                caFile: caFile,
                certificate: certificate.map { certs + "/\($0).pem" },
                key: certificate.map { certs + "/\($0)-key.pem" }
            )
        }
        return KeyValueClient(RaftClient(cluster: self.configuration.withClientPort(endpoints.client.port), configuration: configuration))
    }
}

extension ClusterConfiguration {
    fileprivate func withClientPort(_ port: Int) -> ClusterConfiguration {
        var copy = self
        copy.nodes[0].client.port = port
        return copy
    }
}

/// Runs curl and returns its exit status and standard output. It waits on a thread of its own:
/// blocking one of the few threads of the concurrency pool would starve the server it talks to.
private func curl(_ arguments: [String]) async throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["curl", "-sS", "--max-time", "20"] + arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = await withCheckedContinuation { (continuation: CheckedContinuation<Data, Never>) in
        Thread {
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            continuation.resume(returning: data)
        }.start()
    }
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// One HTTPS request over NIO: the status and the DER of the certificate the server presented.
private func httpsGet(port: Int, caFile: String, path: String = "/v1/status") async throws -> (Int, [UInt8]) {
    var tls = TLSConfiguration.makeClientConfiguration()
    tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
    tls.certificateVerification = .noHostnameVerification
    let context = try NIOSSLContext(configuration: tls)
    let presented = PresentedCertificate()
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: nil))
                try channel.pipeline.syncOperations.addHandler(presented)
                try channel.pipeline.syncOperations.addHTTPClientHandlers()
                return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                    wrappingChannelSynchronously: channel
                )
            }
        }
    return try await channel.executeThenClose { inbound, outbound in
        let head = HTTPRequestHead(
            version: .http1_1,
            method: .GET,
            uri: path,
            headers: HTTPHeaders([("host", "127.0.0.1:\(port)"), ("connection", "close")])
        )
        try await outbound.write(contentsOf: [.head(head), .end(nil)])
        var status = 0
        for try await part in inbound {
            switch part {
            case .head(let head): status = Int(head.status.code)
            case .body: break
            case .end:
                return (status, presented.der.withLock { $0 })
            }
        }
        throw TimedOut(description: "the connection closed before the answer ended")
    }
}

/// Keeps the DER of the certificate the server presented, taken when the handshake completes
/// (after a `connection: close` answer the pipeline may be gone before the answer is read).
private final class PresentedCertificate: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let der = Mutex<[UInt8]>([])

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent,
            let certificate = try? context.pipeline.syncOperations.nioSSL_peerCertificate(),
            let bytes = try? certificate.toDERBytes()
        {
            der.withLock { $0 = bytes }
        }
        context.fireUserInboundEventTriggered(event)
    }
}

/// Sends `bytes` on a fresh TCP connection and returns everything received until the server
/// closes the connection.
private func rawExchange(port: Int, _ bytes: [UInt8]) async throws -> String {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
    return try await withTimeout(.seconds(20), "the server closes the connection") {
        try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(bytes: bytes))
            var received = ""
            do {
                for try await var chunk in inbound {
                    received += chunk.readString(length: chunk.readableBytes) ?? ""
                }
            } catch {
                // A reset is a close too.
            }
            return received
        }
    }
}

@Suite("TLS, authentication and strict input", .serialized, .timeLimit(.minutes(2)))
struct SecurityTests {
    @Test("curl with the cluster's CA reaches HTTPS; without it, curl refuses the certificate")
    func curlWithAndWithoutCA() async throws {
        let secure = try await SecureNode.start(tls: true, auth: false)
        let url = "https://127.0.0.1:\(secure.endpoints.http.port)/v1/status"
        let withCA = try await curl(["--cacert", secure.caFile, url])
        let withoutCA = try await curl([url])
        let plaintext = try await curl(["http://127.0.0.1:\(secure.endpoints.http.port)/v1/status"])
        await secure.stop()
        #expect(withCA.status == 0)
        #expect(withCA.output.contains("\"n1\""))
        // 60: the peer certificate cannot be authenticated with known CA certificates.
        #expect(withoutCA.status == 60)
        #expect(plaintext.status != 0)
    }

    @Test("roles: a read token gets 403 on PUT, no credentials 401, a write token and an admin certificate pass")
    func roles() async throws {
        let secure = try await SecureNode.start(tls: true, auth: true)
        let base = "https://127.0.0.1:\(secure.endpoints.http.port)/v1/kv/greeting"
        let reader = ["-H", "Authorization: Bearer \(SecureNode.readerToken)"]
        let writer = ["-H", "Authorization: Bearer \(SecureNode.writerToken)"]
        let ca = ["--cacert", secure.caFile, "-w", "\n%{http_code}"]
        let readPut = try await curl(ca + reader + ["-X", "PUT", "--data", "hello", base])
        let anonymousGet = try await curl(ca + [base])
        let wrongToken = try await curl(ca + ["-H", "Authorization: Bearer nope", base])
        let writePut = try await curl(ca + writer + ["-X", "PUT", "--data", "hello", base])
        let readGet = try await curl(ca + reader + [base])
        let certificate = ["--cert", secure.certs + "/admin.pem", "--key", secure.certs + "/admin-key.pem"]
        let adminPut = try await curl(ca + certificate + ["-X", "PUT", "--data", "again", base])

        // The native protocol: the same roles.
        let readClient = try secure.client(token: SecureNode.readerToken)
        let readerDenied = await #expect(throws: RaftClientError.self) {
            try await readClient.put("k", value: "v")
        }
        await readClient.close()
        let anonymous = try secure.client()
        let anonymousDenied = await #expect(throws: RaftClientError.self) {
            _ = try await anonymous.get("k")
        }
        await anonymous.close()
        let admin = try secure.client(certificate: "admin")
        try await admin.put("k", value: "v")
        let value = try await admin.get("k")
        await admin.close()
        await secure.stop()

        #expect(readPut.output.hasSuffix("403"))
        #expect(readPut.output.contains("\"error\""))
        #expect(anonymousGet.output.hasSuffix("401"))
        #expect(wrongToken.output.hasSuffix("401"))
        #expect(writePut.output.hasSuffix("200"))
        #expect(readGet.output.hasPrefix("hello"))
        #expect(adminPut.output.hasSuffix("200"))
        #expect(readerDenied?.code == .forbidden)
        #expect(anonymousDenied?.code == .unauthenticated)
        #expect(value == "v")
    }

    @Test(
        "the role each HTTP request needs",
        arguments: [
            (HTTPMethod.GET, "/v1/kv/a", "", ClusterConfiguration.Role.read),
            (.HEAD, "/v1/status", "", .read),
            (.POST, "/v1/groups/kv/query?consistency=stale", "", .read),
            (.PUT, "/v1/kv/a", "v", .write),
            (.DELETE, "/v1/kv/a", "", .write),
            (.POST, "/v1/groups/kv/command", "\u{1}", .write),
            (.POST, "/v1/groups/app/command", "\u{0}RAFTHOST-DEPLOY....", .admin),
            (.POST, "/v1/groups/kv/members", "{}", .admin),
            (.GET, "/v1/groups/kv/members", "", .admin),
            (.POST, "/v1/groups/kv/leader", "{}", .admin),
        ]
    )
    func requiredRole(method: HTTPMethod, uri: String, body: String, role: ClusterConfiguration.Role) {
        #expect(HTTPAccess.requiredRole(method: method, uri: uri, body: ByteBuffer(string: body)) == role)
    }

    @Test("a reload serves the rotated certificate to new connections, with no failed request")
    func rotation() async throws {
        let secure = try await SecureNode.start(tls: true, auth: false)
        let port = secure.endpoints.http.port
        let nodeCertificate = secure.certs + "/n1.pem"
        let original = try NIOSSLCertificate.fromPEMFile(nodeCertificate)[0].toDERBytes()
        let failures = Mutex<[String]>([])
        let seen = Mutex<Set<[UInt8]>>([])
        let load = Task {
            while !Task.isCancelled {
                do {
                    let (status, certificate) = try await httpsGet(port: port, caFile: secure.caFile)
                    if status != 200 { failures.withLock { $0.append("HTTP \(status)") } }
                    _ = seen.withLock { $0.insert(certificate) }
                } catch is CancellationError {
                    break
                } catch {
                    // A request cut short by the end of the test is not a failure of the node.
                    if !Task.isCancelled { failures.withLock { $0.append("\(error)") } }
                }
            }
        }
        _ = try await eventually(within: .seconds(20), "a request served with the first certificate") {
            seen.withLock { $0.contains(original) } ? true : nil
        }
        // New node (and client) certificates from the same CA, then the reload SIGHUP performs.
        _ = try ClusterCertificates.create(for: secure.configuration)
        let rotated = try NIOSSLCertificate.fromPEMFile(nodeCertificate)[0].toDERBytes()
        #expect(rotated != original)
        try secure.node.reloadTLS()
        _ = try await eventually(within: .seconds(20), "a request served with the rotated certificate") {
            seen.withLock { $0.contains(rotated) } ? true : nil
        }
        load.cancel()
        _ = await load.result
        let (status, certificate) = try await httpsGet(port: port, caFile: secure.caFile)
        await secure.stop()
        #expect(failures.withLock { $0 } == [])
        #expect(status == 200)
        #expect(certificate == rotated)
    }

    /// `admin` is a client certificate as `rafthost certs` makes them (client authentication
    /// only: the handshake fails); `impostor` one that another CA might issue, good for serving
    /// too: only the check of the server's identity stops it.
    @Test(
        "a server presenting a client certificate of the cluster's CA is refused before anything is sent to it",
        arguments: [("admin", "CERTIFICATE_VERIFY_FAILED"), ("impostor", "the server's certificate is not a node's")]
    )
    func clientCertificateCannotPoseAsANode(certificate: String, refusal: String) async throws {
        let secure = try await SecureNode.start(tls: true, auth: true, servingAs: certificate)
        var configuration = RaftClient.Configuration(attemptTimeout: .seconds(1), timeout: .seconds(2))
        configuration.token = SecureNode.writerToken
        configuration.tls = try ClientTLS(caFile: secure.caFile)
        let kv = KeyValueClient(
            RaftClient(cluster: secure.configuration.withClientPort(secure.endpoints.client.port), configuration: configuration)
        )
        await #expect(throws: (any Error).self) { try await kv.put("k", value: "v") }
        await kv.close()
        // One attempt, so that the error is the refusal and not a deadline cutting a retry short.
        let error = await #expect(throws: (any Error).self) {
            _ = try await ClientPortProbe.send(
                KV.put("k", "v", client: 7, sequence: 1),
                group: "kv",
                host: "127.0.0.1",
                port: secure.endpoints.client.port,
                timeout: .seconds(20),
                tls: try ClientTLS(caFile: secure.caFile)
            )
        }
        let metrics = secure.node.status()[0].metrics
        await secure.stop()
        #expect("\(error.map { "\($0)" } ?? "")".contains(refusal), "\(String(describing: error))")
        // The write never reached the impostor.
        #expect(metrics.proposals == 0)
    }

    @Test("HTTP/1.1 without Host or with two is 400, too many headers 431; HTTP/1.0 needs no Host")
    func strictHeaders() async throws {
        let secure = try await SecureNode.start(tls: false, auth: false)
        let port = secure.endpoints.http.port
        let noHost = try await rawExchange(port: port, Array("GET /v1/status HTTP/1.1\r\n\r\n".utf8))
        let twoHosts = try await rawExchange(
            port: port,
            Array("GET /v1/status HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".utf8)
        )
        let many = (0..<(HTTPRequestLimits.maxHeaderCount + 1)).map { "X-\($0): y\r\n" }.joined()
        let tooMany = try await rawExchange(port: port, Array("GET /v1/status HTTP/1.1\r\nHost: a\r\n\(many)\r\n".utf8))
        let large = "X-Large: " + String(repeating: "y", count: HTTPRequestLimits.maxHeaderBytes) + "\r\n"
        let tooLarge = try await rawExchange(port: port, Array("GET /v1/status HTTP/1.1\r\nHost: a\r\n\(large)\r\n".utf8))
        let http10 = try await rawExchange(port: port, Array("GET /v1/status HTTP/1.0\r\n\r\n".utf8))
        await secure.stop()
        #expect(noHost.hasPrefix("HTTP/1.1 400"))
        #expect(twoHosts.hasPrefix("HTTP/1.1 400"))
        #expect(tooMany.hasPrefix("HTTP/1.1 431"))
        #expect(tooLarge.hasPrefix("HTTP/1.1 431"))
        #expect(http10.hasPrefix("HTTP/1.0 200"))
    }

    @Test("a TLS ClientHello on a plaintext port and plaintext on a TLS port close that connection, logged once")
    func wrongProtocol() async throws {
        // The start of a ClientHello record: handshake (0x16), TLS 1.0 record version, a length.
        let clientHello: [UInt8] = [0x16, 0x03, 0x01, 0x00, 0xF4, 0x01, 0x00, 0x00, 0xF0, 0x03, 0x03]
        let plain = try await SecureNode.start(tls: false, auth: false)
        let helloAnswer = try await rawExchange(port: plain.endpoints.client.port, clientHello)
        let httpHelloAnswer = try await rawExchange(port: plain.endpoints.http.port, clientHello)
        _ = await plain.recorder.first { $0.message == "Closing connection: a TLS ClientHello on the plaintext client port" }
        _ = await plain.recorder.first { $0.message == "Closing connection: a TLS ClientHello on the plaintext HTTP port" }
        let stillServing = try await httpRequest(.GET, port: plain.endpoints.http.port, "/v1/status")
        await plain.stop()

        let secure = try await SecureNode.start(tls: true, auth: false)
        let plaintextAnswer = try await rawExchange(
            port: secure.endpoints.http.port,
            Array("GET /v1/status HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
        )
        _ = await secure.recorder.first { $0.message == "Closing connection: plaintext on the TLS HTTP port" }
        let (status, _) = try await httpsGet(port: secure.endpoints.http.port, caFile: secure.caFile)
        let logged = secure.recorder.count { $0.message.hasPrefix("Closing connection: plaintext") }
        await secure.stop()

        #expect(helloAnswer.isEmpty)
        #expect(httpHelloAnswer.isEmpty)
        #expect(stillServing.status == 200)
        #expect(plaintextAnswer.isEmpty)
        #expect(status == 200)
        #expect(logged == 1)
    }
}
