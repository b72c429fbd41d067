# Compiles the message path at precompile time (no server needed): without it the first
# request of a session spends seconds compiling MsgPack's encoder and decoder.

PrecompileTools.@compile_workload begin
    message = Dict{String,Any}("v" => 1, "rid" => UInt64(1), "op" => "write", "handle" => UInt64(1), "form" => "dense",
                               "bytes" => Bin(as_bytes(Float64[1, 2])), "release" => UInt64[2],
                               "ranges" => [Any[0, Bin(UInt8[1])]], "metadata" => Dict("name" => "x"))
    decode(encode(message))
    response = decode(encode(Dict{String,Any}(
        "v" => 1, "rid" => typemax(UInt64), "ok" => true, "session" => typemax(UInt64), "protocol" => 1,
        "server" => "0.1.0", "heartbeatMs" => 1000, "sessionTimeoutMs" => 10000, "shmDir" => "/dev/shm/x",
        "pub" => "ipc://x", "limits" => Dict("maxMessageBytes" => 1 << 26, "maxBatchDeltas" => 1 << 16,
                                             "maxInlineBytes" => 1 << 20, "maxInFlight" => 1024),
        "pages" => [UInt64(1)], "firstLsn" => 1, "lastLsn" => 2, "source" => "user", "bytes" => Bin(UInt8[1]))))
    SessionInfo(response)
    CommitNotification(response)
    response_error(Dict{Any,Any}("ok" => false, "code" => "INTERNAL", "message" => "m"))
    queue = ReleaseQueue()
    push!(queue, UInt64(1))
    take_all!(queue)
end

# The calls that need a server, compiled without running them.
for (f, types) in (
    (request, (Bus, String, Dict{String,Any})),
    (exchange, (Bus, String, Dict{String,Any})),
    (await_response, (Bus, UInt64, Int)),
    (hello!, (Bus,)),
    (tick, (WeakRef, Timer)),
    (page_from, (Bus, Dict{Any,Any})),
    (write_payload, (Page, DensePayload, Nothing)),
    (write_payload, (Page, SparsePayload, Nothing)),
    (write_payload, (Page, RangesPayload, Nothing)),
    (update_page!, (Page, Vector{UInt8})),
    (update_page!, (Page, Vector{Float64})),
    (update_page!, (Page, Vector{Pair{Int,Vector{UInt8}}})),
    (update_page!, (Page, BitVector, Vector{UInt8})),
    (query_page, (Page,)),
    (query_page, (Page, Type{Float64})),
    (map_read, (String, Int, Int)),
    (page_info, (Page,)),
    (get_stats, (Bus,)),
    (query_log, (Bus,)),
    (checkpoint_log!, (Bus,)),
    (replay_log, (Bus, Int, Vector{Page})),
    (add_dependency!, (Page, Page)),
    (batch_route_deltas!, (Bus, Vector{Pair{Page,Vector{UInt8}}})),
)
    precompile(f, types)
end
precompile(Core.kwcall, (NamedTuple{(:size,),Tuple{Int}}, typeof(create_page), Bus))
precompile(Core.kwcall, (NamedTuple{(:timeout,),Tuple{Int}}, typeof(connect), String))
