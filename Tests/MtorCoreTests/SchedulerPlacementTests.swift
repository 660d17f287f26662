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
                                        load: { .init(running: c.full.contains($0) ? 3 : 2, limit: 3) })
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

    @Test("a provider is full at its concurrency, not below it; one without a limit never is", arguments: [
        (Scheduler.Load(running: 2, limit: 3), false), (.init(running: 3, limit: 3), true), (.init(running: 4, limit: 3), true),
        (.init(running: 0, limit: 0), true), (.init(running: 500, limit: nil), false),
    ])
    func load(_ load: Scheduler.Load, full: Bool) {
        #expect(load.full == full)
        let placement = Scheduler.place(chain: [.init(provider: "zhipu")], readiness: { _ in .ready }, load: { _ in load })
        #expect(placement == (full ? .hold(.providers([.atCapacity("zhipu")])) : .start("zhipu")))
    }

    static func entry(_ state: ProviderHealthEntry.State, _ change: (inout ProviderHealthEntry) -> Void = { _ in }) -> ProviderHealthEntry {
        var e = ProviderHealthEntry(provider: "zhipu")
        e.state = state
        change(&e)
        return e
    }

    /// At t = 1000 with an idle limit of 1800 s.
    static let readinessCases: [(String, ProviderHealthEntry?, Scheduler.Readiness)] = [
        ("never seen: preflight it", nil, .probeNeeded),
        ("unknown: preflight it", entry(.unknown), .probeNeeded),
        ("its preflight runs: wait", entry(.probing), .waiting(.probing("zhipu"))),
        ("healthy and used lately: ready", entry(.healthy) { $0.lastGoodAt = 900 }, .ready),
        ("healthy but idle past the limit: preflight again", entry(.healthy) { $0.lastGoodAt = 1000 - 1801 }, .probeNeeded),
        ("unhealthy before its next probe: wait, saying why",
         entry(.unhealthy) { $0.nextProbe = 1030; $0.class = .authFailed; $0.reason = "401"; $0.nextProbeAt = "T"; $0.hint = "h" },
         .waiting(.failedPreflight("zhipu", class: .authFailed, reason: "401", nextProbeAt: "T", hint: "h"))),
        ("rate-limited with a reset the provider named: held until then",
         entry(.unhealthy) { $0.nextProbe = 1030; $0.class = .rateLimited; $0.heldByProvider = true; $0.nextProbeAt = "T" },
         .waiting(.rateLimited("zhipu", until: "T"))),
        ("rate-limited without a named reset: a failed preflight like any other",
         entry(.unhealthy) { $0.nextProbe = 1030; $0.class = .rateLimited; $0.heldByProvider = false },
         .waiting(.failedPreflight("zhipu", class: .rateLimited, reason: nil, nextProbeAt: nil, hint: nil))),
        ("unhealthy and its next probe is due: preflight it", entry(.unhealthy) { $0.nextProbe = 1000 }, .probeNeeded),
    ]

    @Test("a provider's readiness from its health entry alone", arguments: readinessCases.indices)
    func readiness(_ i: Int) {
        let (name, entry, expected) = Self.readinessCases[i]
        #expect(Scheduler.readiness(entry, provider: "zhipu", now: 1000, idleLimit: 1800) == expected, "\(name)")
    }

    @Test("a scheduler hold and a placement hold print through one description")
    func oneDescription() {
        let pause = Scheduler.Hold.providerPaused("kimi", .init(since: "10:00", by: "ann"))
        #expect(Scheduler.Wait.scheduled(pause).description == pause.description)
        #expect(Scheduler.timeOfDay("2026-05-01T15:00:12.345Z") == "15:00:12 UTC")
        #expect(Scheduler.timeOfDay(nil) == "?")
    }
}
