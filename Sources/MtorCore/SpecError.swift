import Foundation

/// Why a spec was refused, with a sentence that names the problem.
public enum SpecError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The spec can't be parsed or validated; `key` names the frontmatter key at fault.
    case invalid(key: String?, String)
    /// The `repo` is missing, not a directory, or not a git work tree.
    case workdirMissing(String)

    public var failureClass: FailureClass {
        switch self {
        case .invalid: return .specInvalid
        case .workdirMissing: return .workdirMissing
        }
    }

    public var description: String {
        switch self {
        case .invalid(_, let sentence), .workdirMissing(let sentence): return sentence
        }
    }
}
