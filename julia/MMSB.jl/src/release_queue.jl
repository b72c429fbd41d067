# The only state finalizers touch: a lock-free stack of handle ids to release.
#
# A finalizer may run on any thread, at any allocation, while the task it interrupts holds
# any lock (including the connection's). So it must not lock, do I/O or switch tasks: it
# only pushes one node with a compare-and-swap (a Treiber stack). The owner takes the whole
# stack with one atomic swap and sends it as the `release` list of its next request. Nodes
# are never reused, so a CAS cannot succeed on a recycled node (no ABA).

struct ReleaseNode
    handle::UInt64
    next::Union{Nothing,ReleaseNode}
end

"""
    ReleaseQueue()

Handle ids waiting to be released. `push!` is safe from finalizers on any thread;
`take_all!` empties the queue atomically and returns its ids (oldest first).
"""
mutable struct ReleaseQueue
    @atomic head::Union{Nothing,ReleaseNode}
    ReleaseQueue() = new(nothing)
end

function Base.push!(queue::ReleaseQueue, handle::UInt64)
    head = @atomic :acquire queue.head
    while true
        head, done = @atomicreplace :acquire_release :acquire queue.head head => ReleaseNode(handle, head)
        done && return queue
    end
end

Base.isempty(queue::ReleaseQueue) = (@atomic :acquire queue.head) === nothing

function take_all!(queue::ReleaseQueue)
    node = @atomicswap :acquire_release queue.head = nothing
    handles = UInt64[]
    while node !== nothing
        push!(handles, node.handle)
        node = node.next
    end
    reverse!(handles)
end

"""Puts back handles whose release could not be sent (the request never left)."""
function requeue!(queue::ReleaseQueue, handles::Vector{UInt64})
    foreach(handle -> push!(queue, handle), handles)
    queue
end
