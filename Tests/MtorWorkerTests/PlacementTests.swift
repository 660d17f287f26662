import Testing
import MtorCore
@testable import MtorWorker

/// One row: a chain, each provider's readiness (missing: ready), the providers at their limit,
/// what placement decides and the sentence `status` shows for a hold.
struct PlacementCase: Sendable, CustomTestStringConvertible {
    var name: String
    var chain: [Placement.Link]
    var readiness: [String: ProviderHealth.Readiness] = [:]
    var full: Set<String> = []
    var expected: Placement.Choice
    var says: String?
    /// A provider of the chain past the one that decides: its readiness must not be asked.
    var untried: String?
    var testDescription: String { name }
}

let authFailed = ProviderHealth.Wait.failedPreflight("zhipu", class: .authFailed, reason: "preflight: bad key", nextProbeAt: "2026-05-01T15:00:12Z", hint: "check ZHIPU_API_KEY")
let rateLimited = ProviderHealth.Wait.rateLimited("zhipu", until: "2026-05-01T15:00:12Z")

let placementCases: [PlacementCase] = [
    PlacementCase(name: "a ready provider with room takes the spec", chain: [.init(provider: "zhipu")], expected: .start("zhipu")),
    PlacementCase(name: "a ready provider at its limit holds it; the fallback is not tried",
                  chain: [.init(provider: "zhipu"), .init(provider: "kimi")], full: ["zhipu"],
                  expected: .hold(.providers([.atCapacity("zhipu")])), says: "provider zhipu is at its concurrency limit", untried: "kimi"),
    PlacementCase(name: "an unhealthy provider hands over to the next",
                  chain: [.init(provider: "zhipu"), .init(provider: "kimi")], readiness: ["zhipu": .waiting(authFailed)], expected: .start("kimi")),
    PlacementCase(name: "a provider being preflighted holds the spec; the fallback is not tried",
                  chain: [.init(provider: "zhipu"), .init(provider: "kimi")], readiness: ["zhipu": .waiting(.probing("zhipu"))],
                  expected: .hold(.providers([.health(.probing("zhipu"))])), says: "provider zhipu is being preflighted", untried: "kimi"),
    PlacementCase(name: "a provider never probed is preflighted, after the unhealthy ones passed over",
                  chain: [.init(provider: "zhipu"), .init(provider: "kimi")], readiness: ["zhipu": .waiting(authFailed), "kimi": .probeNeeded],
                  expected: .probe("kimi", .providers([.health(authFailed), .health(.probing("kimi"))])),
                  says: "provider zhipu failed preflight (auth_failed): preflight: bad key — next probe at 2026-05-01T15:00:12Z (hint: check ZHIPU_API_KEY); provider kimi is being preflighted"),
    PlacementCase(name: "every provider unhealthy: every reason, in chain order",
                  chain: [.init(provider: "zhipu"), .init(provider: "kimi")],
                  readiness: ["zhipu": .waiting(rateLimited), "kimi": .waiting(.failedPreflight("kimi", class: nil, reason: nil, nextProbeAt: nil, hint: ""))],
                  expected: .hold(.providers([.health(rateLimited), .health(.failedPreflight("kimi", class: nil, reason: nil, nextProbeAt: nil, hint: ""))])),
                  says: "provider zhipu is rate-limited until 15:00:12 UTC (from the provider); provider kimi failed preflight (?):  — next probe at ?"),
    PlacementCase(name: "a harness with no provider (sh) starts at once", chain: [.init(provider: nil, needsProvider: false)], expected: .start(nil)),
    PlacementCase(name: "a provider on a harness that needs none is not preflighted",
                  chain: [.init(provider: "zhipu", needsProvider: false)], readiness: ["zhipu": .probeNeeded], expected: .start("zhipu")),
    PlacementCase(name: "an unhealthy provider before sh: sh takes it",
                  chain: [.init(provider: "zhipu"), .init(provider: nil, needsProvider: false)], readiness: ["zhipu": .waiting(authFailed)], expected: .start(nil)),
    PlacementCase(name: "an empty chain holds with no reason", chain: [], expected: .hold(.providers([])), says: ""),
]

@Suite("Placement: which provider of a chain takes a spec, and why it waits")
struct PlacementTests {
    @Test("each chain is placed as the rule says, and a hold says why in status's words", arguments: placementCases)
    func place(_ c: PlacementCase) {
        var probed: [String] = []
        let choice = Placement.choose(c.chain, readiness: { p in probed.append(p); return c.readiness[p] ?? .ready }, atCapacity: { c.full.contains($0) })
        #expect(choice == c.expected)
        switch choice {
        case .hold(let hold), .probe(_, let hold): #expect(hold.description == c.says)
        case .start: #expect(c.says == nil)
        }
        if let untried = c.untried { #expect(!probed.contains(untried), "asked \(probed)") }
    }

    @Test("the worker's other holds say what status has always printed")
    func otherHolds() {
        #expect(Placement.Hold.inPlaceBusy(task: "fix-1", repo: "/home/u/code/widget").description
                == "in-place task fix-1 is running in /home/u/code/widget; in-place tasks on one repo run one at a time")
        #expect(Placement.Hold.repoElsewhere("repo ~/x is missing on a; left for b, which may have it").description
                == "repo ~/x is missing on a; left for b, which may have it")
    }
}
