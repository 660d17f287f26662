import Foundation
import MtorCore

extension TaskRun {
    /// Why `base: after` has no branch to start from: a sentence and what to do.
    struct BaseAfterFailure: Error {
        var reason: String
        var hint: String
    }

    /// The branch (else the final commit) of the task's single dependency, for `base: after`.
    func dependencyBranch(_ spec: Spec) -> Result<String, BaseAfterFailure> {
        guard spec.dependsOn.count == 1, let name = spec.dependsOn.first else {
            return .failure(BaseAfterFailure(reason: "'base: after' needs exactly one dependency, and 'depends_on' names \(spec.dependsOn.count)",
                                             hint: "name one dependency, or give 'base' a branch"))
        }
        let directory = TaskDirectory.scan(spool)
        guard let dep = directory.resolve(name), let result = spool.result(dep), result.status == .succeeded else {
            return .failure(BaseAfterFailure(reason: "'base: after' starts from the branch of dependency \(name), but it has no successful "
                + "result in done/",
                                             hint: "the scheduler starts this task only after its dependency succeeded; `mtor show \(name)` "
                                                 + "says where it is"))
        }
        if let branch = result.git?.branch ?? result.git?.headAfter {
            if let depRepo = result.spec.repo, depRepo != spec.repo {
                return .failure(BaseAfterFailure(reason: "'base: after' starts from \(dep)'s branch \(branch), but that task worked in "
                    + "\(depRepo), not in \(spec.repo)",
                                                 hint: "depend on a task of the same repo, or give 'base' a branch"))
            }
            logger.info("\(id): base: after → \(branch), the branch of dependency \(dep)")
            return .success(branch)
        }
        return .failure(BaseAfterFailure(reason: "'base: after' starts from the branch of dependency \(dep), but its result records no "
            + "branch or commit",
                                         hint: "give 'base' a branch, or make the dependency run in a worktree"))
    }
}
