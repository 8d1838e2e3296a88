/// A WebAssembly plugin that cannot be loaded, or a call into one that failed.
///
/// Failures of a call (a trap, running out of fuel or memory, an answer the ABI does not allow)
/// are thrown from `apply` and so become the answer to that command on every replica. Their
/// ``description`` is therefore made of the plugin's name, the ABI function and the reason only:
/// no addresses, timings or source locations, which could differ from one replica to another.
package struct WasmPluginError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of problem. New codes may be added; do not switch over them exhaustively.
    package struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: Sendable, Hashable {
            case unreadable
            case invalidModule
            case forbiddenImport
            case missingExport
            case unsupportedABI
            case trapped
            case outOfFuel
            case memoryLimit
            case invalidAnswer
            case rejected
            case notDeployed
        }

        private let value: Value

        private init(_ value: Value) {
            self.value = value
        }

        /// The file could not be read.
        package static let unreadable = Code(.unreadable)
        /// Not a valid WebAssembly module, or one that fails to instantiate.
        package static let invalidModule = Code(.invalidModule)
        /// The module imports something; a plugin may import nothing.
        package static let forbiddenImport = Code(.forbiddenImport)
        /// An export the ABI requires is absent or has the wrong type.
        package static let missingExport = Code(.missingExport)
        /// `rh_abi_version` answered a version this host does not speak, or `rh_name` no name.
        package static let unsupportedABI = Code(.unsupportedABI)
        /// The call trapped (`unreachable`, an out-of-bounds access, a division by zero...).
        package static let trapped = Code(.trapped)
        /// The call used up its fuel (`fuel` instructions).
        package static let outOfFuel = Code(.outOfFuel)
        /// The call grew the memory past its cap (`memory`).
        package static let memoryLimit = Code(.memoryLimit)
        /// The call answered bytes outside the memory, or `rh_alloc` gave no room.
        package static let invalidAnswer = Code(.invalidAnswer)
        /// The plugin answered an error of its own (a malformed command, a rejected snapshot).
        package static let rejected = Code(.rejected)
        /// A `WasmFromLog` group got a command or a query before any module was deployed.
        package static let notDeployed = Code(.notDeployed)

        package var description: String {
            switch value {
            case .unreadable: "unreadable"
            case .invalidModule: "invalid module"
            case .forbiddenImport: "forbidden import"
            case .missingExport: "missing export"
            case .unsupportedABI: "unsupported ABI"
            case .trapped: "trapped"
            case .outOfFuel: "out of fuel"
            case .memoryLimit: "memory limit"
            case .invalidAnswer: "invalid answer"
            case .rejected: "rejected"
            case .notDeployed: "not deployed"
            }
        }
    }

    /// The kind of problem, for code to act on.
    package var code: Code
    /// What went wrong, for a human; the same on every replica for a failed call.
    package var message: String

    package init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    package var description: String { message }
}
