# A child `mmsb serve` process, for mmsb_start and for tests.

"""
    ServerProcess

An `mmsb serve` process started by [`MMSB.start_server`](@ref): its `endpoint` and `pub`
endpoint, its `data` directory and where its output goes (`log`). `close` stops it
(SIGTERM, then SIGKILL after 10 s) and is idempotent.
"""
mutable struct ServerProcess
    const process::Base.Process
    const endpoint::String
    const pub::String
    const data::String
    const log::String
end

Base.isopen(server::ServerProcess) = process_running(server.process)

function Base.show(io::IO, server::ServerProcess)
    state = isopen(server) ? "running" : "stopped"
    print(io, "MMSB.ServerProcess(", repr(server.endpoint), ", ", state, ")")
end

function Base.close(server::ServerProcess)
    isopen(server) || return nothing
    kill(server.process, Base.SIGTERM)
    timedwait(() -> !isopen(server), 10.0) === :ok || kill(server.process, Base.SIGKILL)
    wait(server.process)
    nothing
end

"""
The command that runs the `mmsb` CLI: `cli` may be `packages/bus/bin/mmsb.js` (run with
`node`) or an `mmsb` executable; by default `ENV["MMSB_CLI"]`, else `mmsb` on the PATH.
"""
function cli_command(cli::Union{Nothing,AbstractString})
    path = something(cli, get(ENV, "MMSB_CLI", nothing), Sys.which("mmsb"), Some(nothing))
    path === nothing && throw(invalid_argument("no mmsb CLI: pass cli=, set MMSB_CLI or put mmsb on the PATH"))
    endswith(path, ".js") ? `node $path` : `$path`
end

"""
    MMSB.start_server(; data, endpoint, pub, cli, args=String[], timeout=30) -> ServerProcess

Starts `mmsb serve --data <data> --endpoint <endpoint> --pub <pub> <args...>` and waits
until it listens (for `ipc://` endpoints: until its socket file exists). `data` may be
`":memory:"`. By default the endpoints are sockets in a new temporary directory. Output goes
to a log file next to them. The server is stopped by `close`, or when Julia exits. Use
[`mmsb_start`](@ref) to start a server and connect to it.
"""
function start_server(; data::AbstractString, endpoint::Union{Nothing,AbstractString} = nothing,
                      pub::Union{Nothing,AbstractString} = nothing, cli::Union{Nothing,AbstractString} = nothing,
                      args::AbstractVector{<:AbstractString} = String[], timeout::Real = 30)
    run_dir = mktempdir(; prefix = "mmsb-jl-")
    endpoint = something(endpoint, "ipc://$(joinpath(run_dir, "mmsb.sock"))")
    pub = something(pub, "ipc://$(joinpath(run_dir, "mmsb-pub.sock"))")
    log = joinpath(run_dir, "serve.log")
    command = `$(cli_command(cli)) serve --data $data --endpoint $endpoint --pub $pub $args`
    process = run(pipeline(command; stdout = log, stderr = log, append = true); wait = false)
    server = ServerProcess(process, endpoint, pub, String(data), log)
    # A script that dies of an uncaught error must not leave its server running.
    weak = WeakRef(server)
    atexit(() -> weak.value isa ServerProcess && close(weak.value))
    ready = () -> !isopen(server) || !startswith(endpoint, "ipc://") || ispath(endpoint[7:end])
    timedwait(ready, Float64(timeout); pollint = 0.02)
    if !isopen(server)
        throw(ErrorException("mmsb serve exited with status $(server.process.exitcode): $(read(log, String))"))
    end
    ready() || (close(server); throw(MmsbError(:BRIDGE_TIMEOUT, "mmsb serve did not listen on $endpoint within $timeout s")))
    server
end

"""
    mmsb_start(; data, endpoint, pub, cli, args, kwargs...) -> Bus
    mmsb_start(f; kwargs...)

Starts an `mmsb serve` of its own (see [`MMSB.start_server`](@ref)) and connects to it
(see [`MMSB.connect`](@ref) for `timeout`, `keepalive`, `key`). Closing the returned bus
also stops the server. The do-block form closes both when `f` returns.

```julia
bus = mmsb_start(data = mktempdir(), cli = "packages/bus/bin/mmsb.js")
```
"""
function mmsb_start(; data::AbstractString, endpoint::Union{Nothing,AbstractString} = nothing,
                    pub::Union{Nothing,AbstractString} = nothing, cli::Union{Nothing,AbstractString} = nothing,
                    args::AbstractVector{<:AbstractString} = String[], kwargs...)
    server = start_server(; data, endpoint, pub, cli, args)
    bus = try
        connect(server.endpoint; kwargs...)
    catch
        close(server)
        rethrow()
    end
    bus.server = server
    bus
end

function mmsb_start(f::Function; kwargs...)
    bus = mmsb_start(; kwargs...)
    try
        f(bus)
    finally
        close(bus)
    end
end
