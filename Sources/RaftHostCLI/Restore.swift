import ArgumentParser
import ClusterConfig
import Foundation
import RaftCore
import RaftStorage

/// `rafthost restore --config cluster.yaml --group kv FILE`: the data directories of a new
/// cluster from a backup (`raftctl snapshot save`), for the day a majority is lost for good.
///
/// Each founding node of the file gets, in `<data>/<node>/<group>`, the backup's state at the
/// backup's index and term, with the new cluster's founding nodes as the group's members (the
/// old ones are gone). Start the nodes as usual afterwards; they elect a leader and go on from
/// the backup's index.
struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build a new cluster's data directories from a backup file.",
        discussion: """
            Refuses a damaged or truncated backup (with the byte offset), an unknown group, and a \
            group directory that already holds data: restore into empty data directories only.
            """
    )

    @OptionGroup var options: CommonOptions

    @Option(help: "The group the backup is of (a group of --config).")
    var group: String

    @Option(help: "Restore only this node's directory (default: every founding node's).")
    var node: String?

    @Argument(help: "The backup file (raftctl snapshot save).")
    var file: String

    func run() async throws {
        let configuration = try ClusterConfiguration.load(path: options.config)
        guard configuration.groups.contains(where: { $0.name == group }) else {
            throw ValidationError("\(options.config) has no group named \"\(group)\"")
        }
        // Checked and installed in pieces: a backup of any size is never held as one array.
        let backup: Snapshot
        do {
            backup = try SnapshotFile.open(file)
        } catch  where error.code == .corruption {
            throw ValidationError("\(file) is not a valid backup: \(error)")
        } catch {
            throw ValidationError(
                "cannot read \(file): \(error.errno.map { String(cString: strerror($0)) } ?? error.message)"
            )
        }
        let founders = configuration.nodes.filter { !$0.joins }
        let targets =
            try node.map { name in
                guard let found = founders.first(where: { $0.id == name }) else {
                    throw ValidationError("\(name) is not a founding node of \(options.config)")
                }
                return [found]
            } ?? founders
        // The old members are gone: the new cluster's founders are the group's members.
        let membership = Membership(voters: founders.map { NodeID($0.numericID) })
        let snapshot = Snapshot(
            metadata: SnapshotMetadata(
                index: backup.metadata.index,
                term: backup.metadata.term,
                membership: membership
            ),
            data: backup.data
        )
        for target in targets {
            let directory = configuration.dataDirectory(for: target) + "/" + group
            if let contents = try? FileManager.default.contentsOfDirectory(atPath: directory), !contents.isEmpty {
                throw ValidationError("\(directory) already holds data; restore into empty data directories only")
            }
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let storage = try DiskStorage(directory: directory)
            defer { storage.close() }
            try storage.installSnapshot(snapshot)
            try storage.saveHardState(
                HardState(term: snapshot.metadata.term, vote: nil, commit: snapshot.metadata.index)
            )
            try storage.sync()
            print(
                "restored group \(group) for \(target.id) in \(directory): index \(snapshot.metadata.index), "
                    + "term \(snapshot.metadata.term), members \(founders.map(\.id).joined(separator: ","))"
            )
        }
    }
}
