# A connection to `mmsb serve`: one DEALER socket, one session, the release queue.

"""The client name sent in `hello`."""
const CLIENT_NAME = "MMSB.jl 0.1.0"

"""The protocol versions this client speaks."""
const PROTOCOL_VERSIONS = (1,)

"""
    Bus

A session on an `mmsb serve` server, made by [`MMSB.connect`](@ref) or
[`mmsb_start`](@ref). It owns its socket, its subscriptions, the queue of handles its
pages' finalizers released and, for `mmsb_start`, the server process. Requests from
several tasks are serialised. `close(bus)` ends the session (freeing every handle on the
server) and closes what the bus owns; it is idempotent.
"""
mutable struct Bus
    const endpoint::String
    const socket::ZMQ.Socket
    const lock::ReentrantLock
    const releases::ReleaseQueue
    const key::Union{Nothing,Vector{UInt8}}
    const timeout_ms::Int
    const keepalive::Bool
    const subscriptions::Vector{Subscription}
    info::SessionInfo
    shm_usable::Bool
    next_rid::UInt64
    last_request::Float64
    timer::Union{Nothing,Timer}
    server::Union{Nothing,ServerProcess}
    @atomic closed::Bool
end

"""
    MMSB.connect(endpoint; timeout=30, keepalive=true, key=nothing) -> Bus
    MMSB.connect(f, endpoint; kwargs...)

Opens a session on the server at `endpoint` (`ipc://…` or `tcp://…`, as given to
`mmsb serve --endpoint`). `timeout` (seconds) bounds the wait for each response
(`BRIDGE_TIMEOUT`). With `keepalive` the bus pings the server when idle, so the session
does not expire; the same timer flushes the release queue every `heartbeatMs`. `key` is
the server's auth key (the text of its `--key-file`, for example `read(path, String)`: one
trailing newline is dropped, as the server drops it), for signed frames. The do-block
form closes the bus when `f` returns.
"""
function connect(endpoint::AbstractString; timeout::Real = 30, keepalive::Bool = true,
                 key::Union{Nothing,AbstractString} = nothing)
    timeout > 0 || throw(invalid_argument("timeout must be positive, got $timeout"))
    socket = ZMQ.Socket(ZMQ.DEALER)
    socket.linger = 0
    try
        ZMQ.connect(socket, endpoint)
    catch err
        close(socket)
        throw(invalid_argument("cannot connect to $(repr(endpoint)): $(sprint(showerror, err))"))
    end
    placeholder = SessionInfo(0, 0, "", 0, 0, "", "", Limits(0, 0, 0, 0))
    bus = Bus(String(endpoint), socket, ReentrantLock(), ReleaseQueue(),
              key === nothing ? nothing : Vector{UInt8}(chomp(key)), round(Int, timeout * 1000), keepalive,
              Subscription[], placeholder, false, 1, time(), nothing, nothing, false)
    try
        hello!(bus)
    catch
        @atomic bus.closed = true
        close(socket)
        rethrow()
    end
    bus.timer = start_timer(bus)
    bus
end

function connect(f::Function, endpoint::AbstractString; kwargs...)
    bus = connect(endpoint; kwargs...)
    try
        f(bus)
    finally
        close(bus)
    end
end

function hello!(bus::Bus)
    response = request(bus, "hello", Dict{String,Any}("versions" => collect(PROTOCOL_VERSIONS), "client" => CLIENT_NAME))
    bus.info = SessionInfo(response)
    bus.shm_usable = isdir(bus.info.shm_dir)
    bus
end

Base.isopen(bus::Bus) = !(@atomic bus.closed)

"""
    session(bus) -> SessionInfo

What `hello` said about this bus's session: its id, timeouts, shared-memory directory,
notification endpoint and limits.
"""
session(bus::Bus) = bus.info

function Base.show(io::IO, bus::Bus)
    state = isopen(bus) ? "session $(string(bus.info.id, base = 16))" : "closed"
    print(io, "MMSB.Bus(", repr(bus.endpoint), ", ", state, ")")
end

"""
    request(bus, op, arguments) -> Dict

Sends one request (with the queued releases) and waits for its response; a failure
response is thrown as [`MmsbError`](@ref). Requests of several tasks are serialised by
the bus's lock, so responses arrive in order; a response to an earlier request that timed
out is skipped by its `rid`.
"""
function request(bus::Bus, op::AbstractString, arguments::AbstractDict = Dict{String,Any}())
    response = lock(bus.lock) do
        isopen(bus) || throw(MmsbError(:SESSION_UNKNOWN, "the bus is closed"))
        exchange(bus, op, arguments)
    end
    response["ok"] === true || throw(response_error(response))
    response
end

"""How long `close` waits for the answer to `bye`: a server that is gone must not hold it up."""
const BYE_TIMEOUT_MS = 2000

"""One request and its response, under the bus's lock; the response may be a failure."""
function exchange(bus::Bus, op::AbstractString, arguments::AbstractDict; timeout_ms::Int = bus.timeout_ms)
    rid = bus.next_rid
    bus.next_rid += 1
    message = Dict{String,Any}(arguments)
    message["v"] = 1
    message["rid"] = rid
    message["op"] = op
    released = take_all!(bus.releases)
    isempty(released) || (message["release"] = released)
    try
        send_body(bus, encode(message))
    catch
        requeue!(bus.releases, released)
        rethrow()
    end
    bus.last_request = time()
    await_response(bus, rid, timeout_ms)
end

function send_body(bus::Bus, body::Vector{UInt8})
    if bus.key === nothing
        ZMQ.send(bus.socket, body)
    else
        ZMQ.send(bus.socket, sign_body(bus.key, body); more = true)
        ZMQ.send(bus.socket, body)
    end
end

function await_response(bus::Bus, rid::UInt64, timeout_ms::Int)
    deadline = time() + timeout_ms / 1000
    while true
        remaining = round(Int, (deadline - time()) * 1000)
        remaining > 0 || throw(MmsbError(:BRIDGE_TIMEOUT, "no response to request $rid within $timeout_ms ms"))
        bus.socket.rcvtimeo = remaining
        frames = try
            ZMQ.recv_multipart(bus.socket, Vector{UInt8})
        catch err
            err isa ZMQ.TimeoutError || rethrow()
            continue
        end
        body = verified_body(bus.key, frames)
        body === nothing && continue
        response = decode(body)
        response isa AbstractDict || throw(MmsbError(:INTERNAL, "the server sent a response that is not a map"))
        response_rid = get(response, "rid", nothing)
        # A response to a request that timed out earlier, or to a malformed one (rid nil).
        response_rid == rid && return response
        response_rid === nothing && get(response, "ok", true) === false && return response
    end
end

"""The body of a response or notification, or `nothing` when its signature is wrong."""
function verified_body(key::Union{Nothing,Vector{UInt8}}, frames::Vector{Vector{UInt8}})
    if key === nothing
        length(frames) == 1 || return nothing
        return frames[1]
    end
    length(frames) == 2 || return nothing
    signature, body = frames
    sign_body(key, body) == signature ? body : nothing
end

function start_timer(bus::Bus)
    period = max(bus.info.heartbeat_ms, 50) / 1000
    weak = WeakRef(bus)
    # The timer holds the bus weakly: an unreachable bus is collected and its timer stops.
    Timer(timer -> tick(weak, timer), period; interval = period)
end

"""
One beat of the bus's timer: send the queued releases, or a ping when the bus has been
idle. It never waits for the lock: a request in flight carries the queue anyway. Its
failures are left to the next request of the owner to report.
"""
function tick(weak::WeakRef, timer::Timer)
    bus = weak.value
    bus isa Bus || return close(timer)
    isopen(bus) || return close(timer)
    trylock(bus.lock) || return
    try
        if !isempty(bus.releases)
            request(bus, "release", Dict{String,Any}("handles" => take_all!(bus.releases)))
        elseif bus.keepalive && time() - bus.last_request >= bus.info.heartbeat_ms / 2000
            request(bus, "ping")
        end
    catch err
        err isa MmsbError || err isa ZMQ.StateError || rethrow()
    finally
        unlock(bus.lock)
    end
    nothing
end

"""
    close(bus::Bus)

Ends the session: closes the bus's subscriptions, sends the queued releases with `bye`
(which frees every handle of the session) and closes the socket; then stops the server
when [`mmsb_start`](@ref) started it. Idempotent; a server that is already gone or a
session that already expired is not an error here.
"""
function Base.close(bus::Bus)
    (@atomicswap bus.closed = true) && return nothing
    foreach(close, bus.subscriptions)
    bus.timer === nothing || close(bus.timer)
    lock(bus.lock) do
        try
            exchange(bus, "bye", Dict{String,Any}(); timeout_ms = min(bus.timeout_ms, BYE_TIMEOUT_MS))
        catch err
            err isa MmsbError || err isa ZMQ.StateError || rethrow()
        finally
            close(bus.socket)
        end
    end
    bus.server === nothing || close(bus.server)
    nothing
end
