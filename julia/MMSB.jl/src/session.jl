# What `hello` tells a client about its session.

"""The server's limits, from `hello` (see docs/protocol.md, "Limits")."""
struct Limits
    max_message_bytes::Int
    max_batch_deltas::Int
    max_inline_bytes::Int
    max_in_flight::Int
end

"""
    SessionInfo

A session as `hello` opened it: `id` (random, 64 bits), the negotiated `protocol`, the
`server`'s version, `heartbeat_ms` and `session_timeout_ms`, the session's shared-memory
directory `shm_dir`, the notification endpoint `pub` and the server's [`Limits`](@ref
MMSB.Limits).
"""
struct SessionInfo
    id::UInt64
    protocol::Int
    server::String
    heartbeat_ms::Int
    session_timeout_ms::Int
    shm_dir::String
    pub::String
    limits::Limits
end

function SessionInfo(response::AbstractDict)
    limits = response["limits"]
    SessionInfo(
        as_u64(response["session"], "session"),
        as_int(response["protocol"], "protocol"),
        string(response["server"]),
        as_int(response["heartbeatMs"], "heartbeatMs"),
        as_int(response["sessionTimeoutMs"], "sessionTimeoutMs"),
        string(response["shmDir"]),
        string(response["pub"]),
        Limits(
            as_int(limits["maxMessageBytes"], "maxMessageBytes"),
            as_int(limits["maxBatchDeltas"], "maxBatchDeltas"),
            as_int(limits["maxInlineBytes"], "maxInlineBytes"),
            as_int(limits["maxInFlight"], "maxInFlight"),
        ),
    )
end
