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
        // Streamed to a file beside the target, checked, then renamed over it: a backup of any
        // size is never held as one array, and a failed save leaves the old file as it was.
        let partial = file + ".partial-\(getpid())"
        let snapshot: Snapshot
        let size: Int
        do {
            let body = try BodyFile(path: partial)
            _ = try await target.send(.GET, MemberTarget.path(target.cluster.group ?? group, "snapshot"), into: body)
            try body.sync()
            size = body.written
            // Checked before it replaces anything: a backup that does not decode is no backup.
            snapshot = try SnapshotStatus.open(partial, source: "the leader's answer")
            guard rename(partial, file) == 0 else {
                throw RaftCtlError(.usage, "cannot write \(file): \(String(cString: strerror(errno)))")
            }
        } catch {
            try? FileManager.default.removeItem(atPath: partial)
            throw error
        }
        print(
            "saved group \(target.cluster.group ?? group) to \(file): " + SnapshotStatus.describe(snapshot, bytes: size)
        )
    }
}

struct SnapshotStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Check a backup file.")
    @Argument(help: "The backup file.") var file: String

    func run() async throws {
        let snapshot = try Self.open(file, source: file)
        print("\(file): " + Self.describe(snapshot, bytes: SnapshotFile.size(of: snapshot)))
    }

    /// Opens and checks the backup at `path` in pieces, never as one array.
    static func open(_ path: String, source: String) throws -> Snapshot {
        do {
            return try SnapshotFile.open(path)
        } catch  where error.code == .corruption {
            throw RaftCtlError(.usage, "\(source) is not a valid backup: \(error)")
        } catch {
            throw RaftCtlError(
                .usage,
                "cannot read \(path): \(error.errno.map { String(cString: strerror($0)) } ?? error.message)"
            )
        }
    }

    static func describe(_ snapshot: Snapshot, bytes: Int) -> String {
        "index \(snapshot.metadata.index), term \(snapshot.metadata.term), \(bytes) bytes, "
            + "members \(snapshot.metadata.membership.voters.map(\.description).joined(separator: ","))"
    }
}
