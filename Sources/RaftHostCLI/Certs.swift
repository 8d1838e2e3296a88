import ArgumentParser
import ClusterConfig
import RaftSecurity

/// `rafthost certs`: writes a development CA and the node and client certificates a
/// configuration's `tls` and `auth` sections name, with swift-certificates (no `openssl`).
struct Certs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a development CA and the node and client certificates the configuration names.",
        discussion: """
            The CA (tls.ca, tls.caKey) is created unless both files exist; the certificates of \
            every node (tls.nodes) and of every auth client with cert and key are written anew, \
            signed by it. Node certificates name the node (urn:rafthost:node:<id>) and its hosts \
            and localhost, so curl and other clients verify them; client certificates name the \
            client (urn:rafthost:client:<name>). Send SIGHUP to running nodes to use renewed ones.
            """
    )

    @OptionGroup var options: CommonOptions

    @Option(help: "Days the node and client certificates are valid.")
    var days: Int = 825

    func run() async throws {
        let configuration = try ClusterConfiguration.load(path: options.config)
        guard configuration.tls != nil else {
            throw ValidationError("\(options.config) has no tls section: there are no certificates to create")
        }
        for written in try ClusterCertificates.create(for: configuration, days: days) {
            print("\(written.what): \(written.certificate) (key \(written.key))")
        }
    }
}
