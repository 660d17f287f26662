import MtorCore
import MtorPlatform

/// The worker's spec checks, shared by the worker, `mtor validate` and `mtor submit`.
public enum SpecCheck {
    /// Parses and validates a spec: frontmatter, types, providers (when `settings` is given)
    /// and, when `checkRepo` is set, that `repo` is a git work tree here.
    public static func check(_ bytes: [UInt8], home: String, settings: Settings?,
                             checkRepo: Bool) throws(SpecError) -> (Spec, [Settings.Target]) {
        let spec = try Spec.parse(bytes, home: home)
        return (spec, try check(spec, settings: settings, checkRepo: checkRepo))
    }

    /// Validates a parsed spec (as `check(_:home:settings:checkRepo:)` does after parsing): its
    /// providers' targets, in chain order.
    public static func check(_ spec: Spec, settings: Settings?, checkRepo: Bool) throws(SpecError) -> [Settings.Target] {
        if checkRepo { try repo(spec) }
        let targets = try settings?.targets(for: spec) ?? []
        // Fails closed: a cap mtor could not enforce on one of the providers it may run on is refused now.
        let limits = Budget.TaskLimits(maxCostUSD: spec.maxCostUSD, maxTurns: spec.maxTurns)
        for t in targets {
            if let why = Budget.refusal(limits, stream: t.harness.stream, harness: t.harnessName, price: t.provider?.price(t.model),
                                        provider: t.providerName, model: t.model, dailyBudget: false) {
                let which = targets.count > 1 ? " (provider \(t.providerName ?? "-"))" : ""
                throw .invalid(key: spec.maxCostUSD != nil ? "max_cost_usd" : "max_turns", why + which)
            }
        }
        return targets
    }

    /// `repo`, with symlinks resolved, must lie under one of `allowed` (directory prefixes).
    public static func boundary(_ spec: Spec, allowed: [String]) throws(SpecError) {
        let real = FileSystem.realPath(spec.repo) ?? spec.repo
        let roots = allowed.map { FileSystem.realPath($0) ?? $0 }
        guard roots.contains(where: { $0 == "/" || real == $0 || real.hasPrefix($0.hasSuffix("/") ? $0 : $0 + "/") }) else {
            let really = real != spec.repo ? " (really \(real))" : ""
            throw .invalid(key: "repo", "'repo' \(spec.repo)\(really) is outside the directories this worker may touch "
                           + "(\(roots.joined(separator: ", "))); see --allow-repos")
        }
    }

    /// `repo` must exist, be a directory, and be inside a git work tree.
    public static func repo(_ spec: Spec) throws(SpecError) {
        let shown = spec.repo != spec.repoAsWritten ? "\(spec.repo) (from '\(spec.repoAsWritten)')" : spec.repo
        switch FileSystem.kind(FileSystem.realPath(spec.repo) ?? spec.repo) {
        case .missing:
            throw .workdirMissing("'repo' \(shown) does not exist on this machine")
        case .directory:
            guard Git.isWorkTree(spec.repo) else {
                throw .workdirMissing("'repo' \(shown) is a directory but not a git work tree (no .git in it or above it)")
            }
        default:
            throw .workdirMissing("'repo' \(shown) is not a directory")
        }
    }
}
