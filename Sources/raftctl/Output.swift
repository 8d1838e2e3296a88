import Foundation

/// Writes a line to standard error, where raftctl's diagnostics go so that standard output
/// holds only values.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
