/// `mtor-probe`'s entry point: the probe itself is `probe()` in Probe.swift, outside top-level
/// (@MainActor) code, so URLSession's completion handler is not tied to the main actor.
probe()
