import Foundation
import Testing
@testable import MtorCore

@Suite("Attempt watch: the stop rules of a running attempt")
struct AttemptWatchTests {
    /// Started at 100 with a 600 s timeout, a 120 s stall limit and a 60 s silence probe.
    func watch() -> AttemptWatch { AttemptWatch(deadline: 700, stall: 120, silenceProbe: 60, since: 100) }
    let hung = Verdict(.providerUnavailable, "did not answer")

    @Test("each rule stops the attempt with its own reason, and the first matching rule wins", arguments: [
        (AttemptWatch.Facts(earlyAbort: true), 101.0, AttemptEvidence.Stop.earlyAbort),
        (AttemptWatch.Facts(), 700, .timeout),
        (AttemptWatch.Facts(), 220, .stall),
        (AttemptWatch.Facts(providerFailed: Verdict(.providerUnavailable, "x")), 170, .silence),
        (AttemptWatch.Facts(cancelRequested: true), 101, .cancel),
        (AttemptWatch.Facts(shutdownRequested: true), 101, .shutdown),
        (AttemptWatch.Facts(cancelFileSeen: true), 101, .cancel),
        (AttemptWatch.Facts(earlyAbort: true, cancelRequested: true), 700, .earlyAbort),
        (AttemptWatch.Facts(cancelRequested: true), 700, .timeout),
        (AttemptWatch.Facts(cancelRequested: true, providerFailed: Verdict(.authFailed, "x")), 170, .silence),
        (AttemptWatch.Facts(shutdownRequested: true, cancelFileSeen: true), 101, .shutdown),
        (AttemptWatch.Facts(cancelRequested: true, shutdownRequested: true), 101, .cancel),
    ] as [(AttemptWatch.Facts, Double, AttemptEvidence.Stop?)])
    func rule(_ facts: AttemptWatch.Facts, at t: Double, stop: AttemptEvidence.Stop?) {
        var w = watch()
        #expect(w.check(now: t, facts) == stop)
    }

    @Test("nothing stops a busy attempt within its limits")
    func goesOn() {
        var w = watch()
        _ = w.output(at: 650)
        #expect(w.check(now: 699, AttemptWatch.Facts()) == nil)
    }

    @Test("output resets the stall and silence clocks")
    func outputResets() {
        var w = watch()
        _ = w.output(at: 200)
        #expect(w.check(now: 219, AttemptWatch.Facts()) == nil)
        #expect(!w.probeDue(at: 259) && w.probeDue(at: 260))
        #expect(w.check(now: 320, AttemptWatch.Facts()) == .stall)
    }

    @Test("a silence stop keeps the provider's verdict, and the decided stop does not change")
    func silenceVerdict() {
        var w = watch()
        #expect(w.check(now: 170, AttemptWatch.Facts(providerFailed: hung)) == .silence)
        #expect(w.silenceVerdict == hung)
        #expect(w.check(now: 800, AttemptWatch.Facts(earlyAbort: true)) == .silence)
    }

    @Test("the provider check is due between the probe time and the stall limit, at most half the stall", arguments: [
        (60.0, 159.0, false), (60, 160, true), (60, 219, true), (60, 220, false), (200, 160, true), (200, 159, false),
    ])
    func probeDue(_ probe: Double, at t: Double, due: Bool) {
        let w = AttemptWatch(deadline: 700, stall: 120, silenceProbe: probe, since: 100)
        #expect(w.probeDue(at: t) == due)
    }

    @Test("an answered provider check does not hold back a cancel")
    func cancelWhileProbed() {
        var w = watch()
        #expect(w.probeDue(at: 170))
        #expect(w.check(now: 170, AttemptWatch.Facts(cancelRequested: true)) == .cancel)
    }

    @Test("the cancel file is looked for at most every half second")
    func cancelFileThrottle() {
        var w = watch()
        let looks = [100, 100.4, 100.6].map { w.cancelFileDue(at: $0) }
        #expect(looks == [true, false, true])
    }

    @Test("activity is published at most once a second")
    func publishThrottle() {
        var w = watch()
        let published = [100.1, 100.9, 101.2].map { w.output(at: $0) }
        #expect(published == [true, false, true] && w.lastActivity == 101.2)
    }
}
