import Testing
import MtorCore

/// One row: the evidence (repo, chain, each provider's readiness — missing: ready —, the providers
/// at their limit, the in-place task in the repo), what placement decides and the sentence `status`
/// shows for a hold.
struct PlacementCase: Sendable, CustomTestStringConvertible {
    var name: String
    var repo: Scheduler.RepoEvidence = .here
    var chain: [Scheduler.Link]?
    var readiness: [String: Scheduler.Readiness] = [:]
    var full: Set<String> = []
    var inPlace: String?
    var expected: Scheduler.Placement
    var says: String?
    /// A provider of the chain past the one that decides: its readiness must not be asked.
    var untried: String?
    var testDescription: String { name }
}

let authFailed = Scheduler.ProviderHold.failedPreflight("zhipu", class: .authFailed, reason: "preflight: bad key",
                                                        nextProbeAt: "2026-05-01T15:00:12Z", hint: "check ZHIPU_API_KEY")
let rateLimited = Scheduler.ProviderHold.rateLimited("zhipu", until: "2026-05-01T15:00:12Z")
let pausedBudget = Scheduler.ProviderHold.budgetSpent("zhipu", reason: "provider zhipu spent $5.00 of its daily budget $5.00")
let twoProviders: [Scheduler.Link] = [.init(provider: "zhipu"), .init(provider: "kimi")]

let placementCases: [PlacementCase] = [
    PlacementCase(name: "a ready provider with room takes the spec", chain: [.init(provider: "zhipu")], expected: .start("zhipu")),
    PlacementCase(name: "a ready provider at its limit holds it; the fallback is not tried",
                  chain: twoProviders, full: ["zhipu"],
                  expected: .hold(.providers([.atCapacity("zhipu")])), says: "provider zhipu is at its concurrency limit", untried: "kimi"),
    PlacementCase(name: "an unhealthy provider hands over to the next",
                  chain: twoProviders, readiness: ["zhipu": .waiting(authFailed)], expected: .start("kimi")),
    PlacementCase(name: "a provider whose daily budget is spent hands over to the next, its reason kept",
                  chain: twoProviders, readiness: ["zhipu": .waiting(pausedBudget)], full: ["kimi"],
                  expected: .hold(.providers([.health(pausedBudget), .atCapacity("kimi")])),
                  says: "provider zhipu spent $5.00 of its daily budget $5.00; provider kimi is at its concurrency limit"),
    PlacementCase(name: "a provider being preflighted holds the spec; the fallback is not tried",
                  chain: twoProviders, readiness: ["zhipu": .waiting(.probing("zhipu"))],
                  expected: .hold(.providers([.health(.probing("zhipu"))])), says: "provider zhipu is being preflighted", untried: "kimi"),
    PlacementCase(name: "a provider never probed is preflighted, after the unhealthy ones passed over",
                  chain: twoProviders, readiness: ["zhipu": .waiting(authFailed), "kimi": .probeNeeded],
                  expected: .probe("kimi", .providers([.health(authFailed), .health(.probing("kimi"))])),
                  says: "provider zhipu failed preflight (auth_failed): preflight: bad key — next probe at 2026-05-01T15:00:12Z "
                      + "(hint: check ZHIPU_API_KEY); provider kimi is being preflighted"),
    PlacementCase(name: "every provider unhealthy: every reason, in chain order",
                  chain: twoProviders,
                  readiness: ["zhipu": .waiting(rateLimited),
                              "kimi": .waiting(.failedPreflight("kimi", class: nil, reason: nil, nextProbeAt: nil, hint: ""))],
                  expected: .hold(.providers([.health(rateLimited),
                                              .health(.failedPreflight("kimi", class: nil, reason: nil, nextProbeAt: nil, hint: ""))])),
                  says: "provider zhipu is rate-limited until 15:00:12 UTC (from the provider); provider kimi failed preflight (?):  — next probe at ?"),
    PlacementCase(name: "a harness with no provider (sh) starts at once", chain: [.init(provider: nil, needsProvider: false)], expected: .start(nil)),
    PlacementCase(name: "a provider on a harness that needs none is not preflighted",
                  chain: [.init(provider: "zhipu", needsProvider: false)], readiness: ["zhipu": .probeNeeded], expected: .start("zhipu")),
    PlacementCase(name: "an unhealthy provider before sh: sh takes it",
                  chain: [.init(provider: "zhipu"), .init(provider: nil, needsProvider: false)], readiness: ["zhipu": .waiting(authFailed)],
                  expected: .start(nil)),
    PlacementCase(name: "an empty chain holds with no reason", chain: [], expected: .hold(.providers([])), says: ""),
    PlacementCase(name: "providers the lockfile lacks (no chain): it starts, to fail at once with the reason",
                  chain: nil, inPlace: "fix-1", expected: .start(nil), untried: "zhipu"),
    PlacementCase(name: "a repo missing here while other live hosts may have it: left to them, no provider asked",
                  repo: .missing(repo: "/src/w", host: "a", able: ["b", "c"]), chain: twoProviders,
                  expected: .hold(.repoElsewhere(repo: "/src/w", host: "a", able: ["b", "c"])),
                  says: "repo /src/w is missing on a; left for b, c, which may have it", untried: "zhipu"),
    PlacementCase(name: "a repo missing here and on every live host: placed here, to fail as workdir_missing",
                  repo: .missing(repo: "/src/w", host: "a", able: []), chain: [.init(provider: "zhipu")], expected: .start("zhipu")),
    PlacementCase(name: "an in-place spec waits for the in-place task in its repo; no provider asked",
                  chain: [.init(provider: "zhipu")], inPlace: "fix-1",
                  expected: .hold(.inPlaceBusy(task: "fix-1", repo: "/src/w")),
                  says: "in-place task fix-1 is running in /src/w; in-place tasks on one repo run one at a time", untried: "zhipu"),
]

@Suite("Scheduler.place: where a candidate starts (repo, in-place, provider chain), and why it waits")
struct SchedulerPlacementTests {
    @Test("each case is placed as the rule says, and a hold says why in status's words", arguments: placementCases)
    func place(_ c: PlacementCase) {
        var asked: [String] = []
        let placement = Scheduler.place(repo: c.repo, chain: c.chain, inPlaceBusy: c.inPlace.map { ($0, "/src/w") },
                                        readiness: { p in asked.append(p); return c.readiness[p] ?? .ready },
                                        atCapacity: { c.full.contains($0) })
        #expect(placement == c.expected)
        switch placement {
        case .hold(let hold), .probe(_, let hold):
            #expect(hold.description == c.says)
            #expect(Scheduler.Wait.placed(hold).description == c.says, "status, show and wait print the same sentence")
        case .start:
            #expect(c.says == nil)
        }
        if let untried = c.untried { #expect(!asked.contains(untried), "asked \(asked)") }
    }

    @Test("a scheduler hold and a placement hold print through one description")
    func oneDescription() {
        let pause = Scheduler.Hold.providerPaused("kimi", .init(since: "10:00", by: "ann"))
        #expect(Scheduler.Wait.scheduled(pause).description == pause.description)
        #expect(Scheduler.timeOfDay("2026-05-01T15:00:12.345Z") == "15:00:12 UTC")
        #expect(Scheduler.timeOfDay(nil) == "?")
    }
}
