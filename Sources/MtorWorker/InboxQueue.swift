/// Names waiting in inbox/, in arrival order, each at most once.
struct InboxQueue {
    private var order: [String] = []
    private var head = 0
    private var members: Set<String> = []
    private var deferred: [String] = []
    private var ignored: Set<String> = []

    var isEmpty: Bool { head >= order.count }
    var count: Int { order.count - head }
    var deferredCount: Int { deferred.count }

    mutating func offer(_ name: String) {
        guard !ignored.contains(name), members.insert(name).inserted else { return }
        order.append(name)
    }

    mutating func next() -> String? {
        guard head < order.count else { return nil }
        let name = order[head]
        head += 1
        members.remove(name)
        if head > 4096 && head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
        return name
    }

    /// Holds a name back until a running task finishes.
    mutating func deferName(_ name: String) {
        deferred.append(name)
        members.insert(name)
    }

    mutating func retryDeferred() {
        let names = deferred
        deferred.removeAll()
        for name in names {
            members.remove(name)
            offer(name)
        }
    }

    /// Never offers `name` again (a file the worker will not touch).
    mutating func ignore(_ name: String) { ignored.insert(name) }
}
