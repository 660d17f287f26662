import Foundation
import Testing
import MtorCore
@testable import MtorWorker

/// Steps a provider's health goes through, and what the dispatcher must then be told.
enum HealthStep: Sendable {
    case begin
    case verdict(FailureClass, retryAfter: Double? = nil)
    case taskEnded(FailureClass)
    case reset
}

struct HealthCase: Sendable, CustomTestStringConvertible {
    var name: String
    var steps: [HealthStep]
    /// The readiness after the steps, with its time-dependent stamps set aside: "ready", "probe",
    /// "probing", "rate-limited", or "failed:<class>".
    var expected: String
    var testDescription: String { name }
}

@Suite("ProviderHealth: what a provider's preflights and tasks let the dispatcher do")
struct ProviderHealthTests {
    static let cases: [HealthCase] = [
        HealthCase(name: "never probed: probe it", steps: [], expected: "probe"),
        HealthCase(name: "a probe running: wait for it", steps: [.begin], expected: "probing"),
        HealthCase(name: "a probe that answered: ready", steps: [.begin, .verdict(.ok)], expected: "ready"),
        HealthCase(name: "a failed probe: wait for the next one, saying why", steps: [.begin, .verdict(.authFailed)], expected: "failed:auth_failed"),
        HealthCase(name: "a reset the provider named holds it until then", steps: [.begin, .verdict(.rateLimited, retryAfter: 120)], expected: "rate-limited"),
        HealthCase(name: "a rate limit with no reset named is an ordinary failure", steps: [.begin, .verdict(.rateLimited)], expected: "failed:rate_limited"),
        HealthCase(name: "a task that blames the provider sends it back to preflight", steps: [.begin, .verdict(.ok), .taskEnded(.authFailed)], expected: "probe"),
        HealthCase(name: "a task that fails on its own does not", steps: [.begin, .verdict(.ok), .taskEnded(.agentFailed)], expected: "ready"),
        HealthCase(name: "a reset (SIGHUP) forgets a failure", steps: [.begin, .verdict(.quotaExhausted), .reset], expected: "probe"),
        HealthCase(name: "a reset leaves a running probe alone", steps: [.begin, .reset], expected: "probing"),
        HealthCase(name: "a second probe of a provider being probed is refused, the first's state kept", steps: [.begin, .begin], expected: "probing"),
        HealthCase(name: "a success after a failure: ready again", steps: [.begin, .verdict(.providerUnavailable), .begin, .verdict(.ok)], expected: "ready"),
    ]

    @Test("readiness after each sequence of probes and task ends", arguments: cases)
    func readiness(_ c: HealthCase) throws {
        let f = try SpoolFixture()
        let health = ProviderHealth(spool: f.spool)
        for step in c.steps {
            switch step {
            case .begin: _ = health.beginProbe("zhipu")
            case .verdict(let cls, let after): health.record("zhipu", verdict: Verdict(cls, cls == .ok ? "" : "it said no", hint: "check it", retryAfter: after))
            case .taskEnded(let cls): health.taskEnded("zhipu", cls)
            case .reset: health.reset()
            }
        }
        let readiness = health.readiness("zhipu")
        switch readiness {
        case .ready: #expect(c.expected == "ready")
        case .probeNeeded: #expect(c.expected == "probe")
        case .waiting(.probing(let p)): #expect(c.expected == "probing" && p == "zhipu")
        case .waiting(.rateLimited(let p, let until)): #expect(c.expected == "rate-limited" && p == "zhipu" && until != nil)
        case .waiting(.failedPreflight(let p, let cls, let reason, _, let hint)):
            #expect(c.expected == "failed:\(cls?.rawValue ?? "?")" && p == "zhipu")
            #expect(reason == "it said no" && hint == "check it")
        case .waiting(.budgetSpent):
            Issue.record("provider health never holds for a budget; the worker does")
        }
    }

    @Test("a first beginProbe wins and a second is refused until a verdict")
    func oneProbeAtATime() throws {
        let f = try SpoolFixture()
        let health = ProviderHealth(spool: f.spool)
        #expect(health.beginProbe("zhipu"))
        #expect(!health.beginProbe("zhipu"))
        #expect(health.probing)
        health.record("zhipu", verdict: Verdict(.ok, ""))
        #expect(!health.probing)
        #expect(health.beginProbe("zhipu"))
    }

    @Test("the sentences status and show print for a waiting provider")
    func sentences() {
        #expect(ProviderHealth.Wait.probing("zhipu").description == "provider zhipu is being preflighted")
        #expect(ProviderHealth.Wait.rateLimited("zhipu", until: "2026-05-01T15:00:12.345Z").description
                == "provider zhipu is rate-limited until 15:00:12 UTC (from the provider)")
        #expect(ProviderHealth.Wait.failedPreflight("zhipu", class: .authFailed, reason: "preflight: 401", nextProbeAt: "2026-05-01T15:00:42Z", hint: "set ZHIPU_API_KEY").description
                == "provider zhipu failed preflight (auth_failed): preflight: 401 — next probe at 2026-05-01T15:00:42Z (hint: set ZHIPU_API_KEY)")
        #expect(ProviderHealth.Wait.failedPreflight("zhipu", class: .unknown, reason: "x", nextProbeAt: "t", hint: "").description
                == "provider zhipu failed preflight (unknown): x — next probe at t")
    }

    @Test("turning unhealthy is told once; the verdicts are saved to state/providers.json")
    func unhealthyOnceAndSaved() throws {
        let f = try SpoolFixture()
        let told = LockBox<[String]>([])
        let health = ProviderHealth(spool: f.spool) { provider, cls, _ in told.withLock { $0.append("\(provider) \(cls?.rawValue ?? "?")") } }
        health.record("zhipu", verdict: Verdict(.authFailed, "401"))
        health.record("zhipu", verdict: Verdict(.authFailed, "401 again"))
        health.record("kimi", verdict: Verdict(.ok, ""))
        #expect(told.withLock { $0 } == ["zhipu auth_failed"])
        #expect(health.unhealthy().map(\.provider) == ["zhipu"])
        let file = try JSONDecoder().decode(ProviderHealthFile.self, from: Data(contentsOf: URL(fileURLWithPath: f.spool.state + "/providers.json")))
        #expect(file.providers.map(\.provider) == ["kimi", "zhipu"])
        #expect(file.providers.map(\.failures) == [0, 2])
    }

    @Test("a healthy provider idle past the limit is preflighted again")
    func idle() throws {
        let f = try SpoolFixture()
        let health = ProviderHealth(spool: f.spool, idleLimit: 0.05)
        health.record("zhipu", verdict: Verdict(.ok, ""))
        #expect(health.readiness("zhipu") == .ready)
        Thread.sleep(forTimeInterval: 0.1)
        #expect(health.readiness("zhipu") == .probeNeeded)
    }
}
