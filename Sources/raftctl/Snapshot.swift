import ArgumentParser
import Foundation
import NIOHTTP1
import RaftCore
import RaftStorage

/// `raftctl snapshot save FILE` and `raftctl snapshot status FILE`: backups of a group, as
/// `etcdctl snapshot save` and `status` do for etcd.
struct SnapshotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "Back up a group to a file, or check a backup file.",
        discussion: """
            save asks the group's leader (any node redirects there) for its state once it has \
            applied everything committed before the request, with its index, term and members, \
            and writes it checksummed. rafthost restore builds a new cluster's data directories \
            from such a file. status checks a file and prints what it holds; a truncated or \
            damaged file is refused with the offset (exit status 2).
            """,
        subcommands: [SnapshotSave.self, SnapshotStatus.self]
    )

    @OptionGroup var cluster: ClusterOptions
}

struct SnapshotSave: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "save", abstract: "Back up a group to FILE.")
    @OptionGroup var target: MemberTarget
    @Argument(help: "Where to write the backup (replaced atomically).") var file: String

    func run() async throws {
        let groups = try target.groups()
        guard let group = groups.first, groups.count == 1 || target.cluster.group == nil else {
            throw RaftCtlError(.usage, "name the group to back up with --group")
        }
        let bytes = try await target.send(.GET, MemberTarget.path(target.cluster.group ?? group, "snapshot"))
        // Checked before it is written: a backup that does not decode is no backup.
        let snapshot = try SnapshotStatus.decode(bytes, source: "the leader's answer")
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: file), options: .atomic)
        } catch {
            throw RaftCtlError(.usage, "cannot write \(file): \(error.localizedDescription)")
        }
        print(
            "saved group \(target.cluster.group ?? group) to \(file): "
                + SnapshotStatus.describe(snapshot, bytes: bytes.count)
        )
    }
}

struct SnapshotStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Check a backup file.")
    @Argument(help: "The backup file.") var file: String

    func run() async throws {
        let bytes: [UInt8]
        do {
            bytes = Array(try Data(contentsOf: URL(fileURLWithPath: file)))
        } catch {
            throw RaftCtlError(.usage, "cannot read \(file): \(error.localizedDescription)")
        }
        let snapshot = try Self.decode(bytes, source: file)
        print("\(file): " + Self.describe(snapshot, bytes: bytes.count))
    }

    static func decode(_ bytes: [UInt8], source: String) throws -> Snapshot {
        do {
            return try SnapshotFile.decode(bytes)
        } catch {
            throw RaftCtlError(.usage, "\(source) is not a valid backup: \(error)")
        }
    }

    static func describe(_ snapshot: Snapshot, bytes: Int) -> String {
        "index \(snapshot.metadata.index), term \(snapshot.metadata.term), \(bytes) bytes, "
            + "members \(snapshot.metadata.membership.voters.map(\.description).joined(separator: ","))"
    }
}
