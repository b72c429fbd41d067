# subscribe: a SUB socket on the server's notification endpoint, read by a task.

"""
    subscribe(f, bus::Bus) -> Subscription

Calls `f(::CommitNotification)` for every commit on the bus (of any session), from a task
of its own, until `close(subscription)` or `close(bus)`. An exception thrown by `f` ends
the subscription and is logged. ZeroMQ's SUB sockets join late: commits in the first few
milliseconds after `subscribe` returns may be missed.
"""
function subscribe(f, bus::Bus)
    isopen(bus) || throw(MmsbError(:SESSION_UNKNOWN, "the bus is closed"))
    socket = ZMQ.Socket(ZMQ.SUB)
    socket.linger = 0
    ZMQ.subscribe(socket, "commit")
    ZMQ.connect(socket, bus.info.pub)
    subscription = Subscription(socket, bus.key, nothing, false)
    subscription.task = errormonitor(@async receive_notifications(f, subscription))
    lock(() -> push!(bus.subscriptions, subscription), bus.lock)
    subscription
end
