# Starting and reaching the real `mmsb serve` the tests run against.

const ZMQ = MMSB.ZMQ

"""The repository root: MMSB_REPO, else three levels above this file (julia/MMSB.jl/test)."""
const REPO = normpath(get(ENV, "MMSB_REPO", joinpath(@__DIR__, "..", "..", "..")))

"""The mmsb CLI: MMSB_CLI, else the repository's packages/bus/bin/mmsb.js (run with node)."""
const CLI = get(ENV, "MMSB_CLI", joinpath(REPO, "packages", "bus", "bin", "mmsb.js"))

"""
A short heartbeat, so that the periodic flush is seen in well under a second. Sessions of
the shared server keep the default timeout: a client's timer cannot ping while the
compiler holds its thread, and first calls compile for longer than a short timeout.
"""
const HEARTBEAT_MS = 100

"""The session timeout of the server of the expiry test, started when everything is compiled."""
const SHORT_SESSION_TIMEOUT_MS = 1000

function start_test_server(; data = mktempdir(), session_timeout_ms = 10_000)
    args = ["--heartbeat", string(HEARTBEAT_MS), "--session-timeout", string(session_timeout_ms)]
    MMSB.start_server(; data, cli = CLI, args)
end

"""Testsets to run: all, or the comma-separated names in MMSB_JL_TESTSETS."""
const SELECTED = filter(!isempty, split(get(ENV, "MMSB_JL_TESTSETS", ""), ','))
selected(name) = isempty(SELECTED) || name in SELECTED

"""The key of the server that signs its messages."""
const KEY = "a shared secret"

function key_file()
    path = joinpath(mktempdir(), "key")
    write(path, KEY * "\n")
    chmod(path, 0o600)
    path
end

"""
The servers the selected testsets need, by name, each with the testsets that use it. They
start together at the beginning (each takes a second or two, mostly Node.js starting), and
`server(name)` waits for one.
"""
const SERVER_SPECS = [
    :shared => (() -> start_test_server(), ("pages", "handles", "errors", "examples")),
    :expiry => (() -> start_test_server(; data = ":memory:", session_timeout_ms = SHORT_SESSION_TIMEOUT_MS), ("handles",)),
    # The conformance vectors expect a fresh server with the defaults on an empty directory.
    :conformance => (() -> MMSB.start_server(; data = mktempdir(), cli = CLI), ("conformance",)),
    :signed => (() -> MMSB.start_server(; data = ":memory:", cli = CLI, args = ["--key-file", key_file()]), ("pages",)),
]

const SERVERS = Dict(name => (@async start()) for (name, (start, suites)) in SERVER_SPECS if any(selected, suites))

server(name::Symbol) = fetch(SERVERS[name])

stop_servers() = foreach(task -> close(fetch(task)), values(SERVERS))

"""MMSB_JL_PLANT_FAILURE=1 plants one wrong assertion, to show that a failure fails the suite."""
const PLANTED = get(ENV, "MMSB_JL_PLANT_FAILURE", "") == "1"

"""A DEALER socket of its own, for requests the client would never send."""
function raw_socket(endpoint)
    socket = ZMQ.Socket(ZMQ.DEALER)
    socket.linger = 0
    socket.rcvtimeo = 10_000
    ZMQ.connect(socket, endpoint)
    socket
end

function raw_exchange(socket, body::Vector{UInt8})
    ZMQ.send(socket, body)
    MMSB.decode(ZMQ.recv(socket, Vector{UInt8}))
end

raw_request(socket, message::AbstractDict) = raw_exchange(socket, MMSB.encode(message))

"""The code of the MmsbError that `f` throws, or `nothing`."""
function error_code(f)
    try
        f()
    catch err
        err isa MmsbError && return err.code
        rethrow()
    end
    nothing
end
