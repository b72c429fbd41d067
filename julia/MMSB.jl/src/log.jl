# Operations on the whole bus: batches, the log, checkpoints, replay, statistics.

"""
    batch_route_deltas!(bus, deltas) -> (count, lsn)

Applies several writes at once, all or none: `deltas` is a vector of `page => data`
pairs, where `data` is what [`update_page!`](@ref) takes: an array (dense), a
`(mask, bytes)` tuple (sparse) or a vector of `offset => bytes` pairs (ranges). Inline
bytes only; at most `limits.max_batch_deltas` deltas (`BATCH_TOO_LARGE`).
"""
function batch_route_deltas!(bus::Bus, deltas::AbstractVector{<:Pair{Page}})
    encoded = map(deltas) do (page, data)
        fields, _ = payload_fields(bus, payload(data), false)
        fields["handle"] = live_handle(page, bus)
        fields
    end
    response = request(bus, "batch", Dict{String,Any}("deltas" => encoded))
    (count = as_int(response["count"], "count"), lsn = as_int(response["lsn"], "lsn"))
end

"""
    checkpoint_log!(bus; full=false) -> (lsn, full)

Writes a checkpoint of the bus (incremental unless `full`, or when the server decides a
full one is due) and returns the LSN it covers and whether it was full.
"""
function checkpoint_log!(bus::Bus; full::Bool = false)
    response = request(bus, "checkpoint", Dict{String,Any}("full" => full))
    (lsn = as_int(response["lsn"], "lsn"), full = response["full"] === true)
end

"""
    replay_log(bus, lsn, pages) -> (lsn, hash, pages)

The state of the bus at `lsn`, rebuilt from checkpoints and the log: `hash` is the bus's
state hash at that LSN, and `pages` holds, for each of the given pages in order, a
`(page, epoch, bytes)` tuple with the page's epoch and bytes then. The live bus is not
changed. `LSN_OUT_OF_RANGE` for an LSN older than the log keeps or newer than its end.
"""
function replay_log(bus::Bus, lsn::Integer, pages::AbstractVector{Page})
    handles = UInt64[live_handle(page, bus) for page in pages]
    response = request(bus, "replay", Dict{String,Any}("lsn" => lsn, "handles" => handles))
    by_handle = Dict(page.handle => page for page in pages)
    states = map(response["pages"]) do state
        page = by_handle[as_u64(state["handle"], "handle")]
        (page = page, epoch = as_int(state["epoch"], "epoch"), bytes = Vector{UInt8}(state["bytes"]))
    end
    (lsn = as_int(response["lsn"], "lsn"), hash = string(response["hash"]), pages = states)
end

"""
    query_log(bus) -> (lsn, durable_lsn, oldest_lsn, syncs)

Where the log stands: the LSN of the last change, the highest LSN known durable, the
oldest LSN a replay can reach and the number of syncs.
"""
function query_log(bus::Bus)
    response = request(bus, "log")
    (lsn = as_int(response["lsn"], "lsn"), durable_lsn = as_int(response["durableLsn"], "durableLsn"),
     oldest_lsn = as_int(response["oldestLsn"], "oldestLsn"), syncs = as_int(response["syncs"], "syncs"))
end

"""
    get_stats(bus) -> (bus, bridge, session)

The server's counters: `bus` (every counter of the bus, by name), `bridge` (sessions,
handles, requests, errors, dropped frames, shared-memory bytes) and `session` (this
session's `handles` and `references`), each a `Dict{String,Any}`.
"""
function get_stats(bus::Bus)
    response = request(bus, "stats")
    (bus = Dict{String,Any}(response["bus"]), bridge = Dict{String,Any}(response["bridge"]),
     session = Dict{String,Any}(response["session"]))
end
