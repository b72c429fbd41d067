# One exception type for every failure the bus, the bridge or this client reports.

"""
Every code an `MmsbError` can carry: `@mmsb/bus`'s `ErrorCode` in its order
(packages/bus/src/errors.ts): the bus's codes, then the bridge's of docs/protocol.md. The
test suite checks this list against both files.
"""
const ERROR_CODES = (
    :PAGE_NOT_FOUND, :PAGE_RELEASED, :PAGE_SIZE_INVALID, :LOCATION_UNKNOWN, :CUDA_UNAVAILABLE,
    :DELTA_SIZE_MISMATCH, :RANGE_OUT_OF_BOUNDS, :RANGE_OVERLAP, :EPOCH_CONFLICT, :METADATA_INVALID,
    :ENCODING_INVALID, :INVALID_ARGUMENT, :IO_ERROR, :LOG_CORRUPT, :CHECKPOINT_CORRUPT, :LOG_FAILED,
    :DIRECTORY_LOCKED, :LSN_OUT_OF_RANGE, :GRAPH_CYCLE, :EDGE_EXISTS, :EDGE_NOT_FOUND, :DISK_FULL,
    :DURABILITY_UNKNOWN, :MEMORY_UNSUITABLE, :WAVE_LIMIT, :DEVICE_NOT_FOUND, :DEVICE_OUT_OF_MEMORY,
    :DEVICE_FAILED, :NATIVE_UNAVAILABLE, :BUS_CLOSED,
    :RECOMPUTE_FAILED, :EVENTS_OVERFLOW, :LISTENER_FAILED, :INTERNAL,
    # the bridge's own
    :MALFORMED_REQUEST, :PROTOCOL_VERSION, :UNKNOWN_OPERATION, :MESSAGE_TOO_LARGE, :BATCH_TOO_LARGE,
    :SESSION_UNKNOWN, :HANDLE_UNKNOWN, :HANDLE_FOREIGN, :ID_UNREPRESENTABLE, :SHM_INVALID,
    :BRIDGE_TIMEOUT,
)

"""
    MmsbError(code::Symbol, message::String)

The one exception MMSB.jl throws for a refused request, a broken connection or a bad
argument. `code` is one of [`ERROR_CODES`](@ref MMSB.ERROR_CODES) (stable, to branch on);
`message` says what was wrong. A refused request changed nothing, with two exceptions:
`DURABILITY_UNKNOWN` (applied and logged, but the sync failed) and `BRIDGE_TIMEOUT` (no
response came in time: the server may still have applied the request).

```julia
try
    update_page!(page, zeros(UInt8, 3))
catch err
    err isa MmsbError && err.code === :DELTA_SIZE_MISMATCH || rethrow()
end
```
"""
struct MmsbError <: Exception
    code::Symbol
    message::String
    function MmsbError(code::Symbol, message::AbstractString)
        code in ERROR_CODES || throw(ArgumentError("unknown MMSB error code $code"))
        new(code, String(message))
    end
end

Base.showerror(io::IO, err::MmsbError) = print(io, "MmsbError(", err.code, "): ", err.message)

"""
The exception for a failed response. A code this client does not know (a newer server) is
reported as `INTERNAL` with the server's code in the message, never dropped.
"""
function response_error(response::AbstractDict)
    code = get(response, "code", nothing)
    message = string(get(response, "message", "the server gave no message"))
    name = code isa AbstractString ? Symbol(code) : :INTERNAL
    name in ERROR_CODES && return MmsbError(name, message)
    MmsbError(:INTERNAL, "unknown error code $(repr(code)) from the server: $message")
end

invalid_argument(message::AbstractString) = MmsbError(:INVALID_ARGUMENT, message)
