/// A native plugin that cannot be loaded, or a call into one that returned an error.
///
/// The ``description`` is the reason alone (the host adds where the plugin is configured):
///
/// ```
/// /srv/plugins/libcounter.so was built for plugin ABI version 2; this host implements version 1
/// ```
package struct NativePluginError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of problem this is. New codes may be added.
    package struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Wrapped: String, Sendable, Hashable {
            case missingFile
            case unloadable
            case missingSymbol
            case abiVersionMismatch
            case invalidTable
            case pluginError
        }

        private let wrapped: Wrapped

        private init(_ wrapped: Wrapped) {
            self.wrapped = wrapped
        }

        package var description: String { wrapped.rawValue }

        /// No file at the path.
        package static let missingFile = Code(.missingFile)
        /// The dynamic loader refused the file (the message is its `dlerror` text).
        package static let unloadable = Code(.unloadable)
        /// The library does not export `rafthost_plugin_entry`.
        package static let missingSymbol = Code(.missingSymbol)
        /// The library was built for another version of the plugin ABI.
        package static let abiVersionMismatch = Code(.abiVersionMismatch)
        /// The entry returned no table, a table without a name, or one with a missing function.
        package static let invalidTable = Code(.invalidTable)
        /// A function of the plugin returned an error status; the message is the plugin's.
        package static let pluginError = Code(.pluginError)
    }

    /// What kind of problem this is.
    package var code: Code
    /// The reason, for a human.
    package var message: String

    package init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    package var description: String { message }
}
