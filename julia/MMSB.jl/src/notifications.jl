# Commit notifications and the Subscription that receives them.

"""
    CommitNotification

One commit (or propagation wave) on the bus: the ids of the `pages` it changed, its LSNs
`first_lsn:last_lsn` and its `source` (`:user`, `:propagation` or `:bridge`).
"""
struct CommitNotification
    pages::Vector{UInt64}
    first_lsn::Int
    last_lsn::Int
    source::Symbol
end

function CommitNotification(body::AbstractDict)
    CommitNotification(
        UInt64[as_u64(page, "a page id") for page in body["pages"]],
        as_int(body["firstLsn"], "firstLsn"),
        as_int(body["lastLsn"], "lastLsn"),
        Symbol(body["source"]),
    )
end

"""
    Subscription

A running [`subscribe`](@ref): its own SUB socket read by its own task. `close` stops the
task and closes the socket (idempotent); closing the bus closes its subscriptions first.
"""
mutable struct Subscription
    const socket::ZMQ.Socket
    const key::Union{Nothing,Vector{UInt8}}
    task::Union{Nothing,Task}
    @atomic closed::Bool
end

Base.isopen(subscription::Subscription) = !(@atomic subscription.closed)

Base.show(io::IO, subscription::Subscription) =
    print(io, "MMSB.Subscription(", isopen(subscription) ? "open" : "closed", ")")

"""How often the subscription's task looks at its `closed` flag while no message comes."""
const SUBSCRIPTION_POLL_MS = 100

function Base.close(subscription::Subscription)
    (@atomicswap subscription.closed = true) && return nothing
    task = subscription.task
    # The task owns the socket while it runs; it sees the flag within one poll.
    task === nothing || task === current_task() || wait(task)
    close(subscription.socket)
    nothing
end

function receive_notifications(f, subscription::Subscription)
    socket = subscription.socket
    socket.rcvtimeo = SUBSCRIPTION_POLL_MS
    while isopen(subscription)
        frames = try
            ZMQ.recv_multipart(socket, Vector{UInt8})
        catch err
            err isa ZMQ.TimeoutError || rethrow()
            continue
        end
        length(frames) >= 2 || continue
        body = verified_body(subscription.key, frames[2:end])
        body === nothing && continue
        message = decode(body)
        String(frames[1]) == "commit" && message isa AbstractDict && f(CommitNotification(message))
    end
end
