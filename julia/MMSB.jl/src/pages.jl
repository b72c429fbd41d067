# Pages: a handle of the bus's session, released by close or by the garbage collector.

"""
    Page

A handle to one bus page in one session: its `id` (the bus's page id), `size` in bytes
and `handle` (the session's id for it). The server owns the bytes; a `Page` only names
them. `close(page)` (or the garbage collector, when the `Page` is unreachable) queues the
handle's release, sent with the next request of its bus or within `heartbeatMs`.
"""
mutable struct Page
    const bus::Bus
    const handle::UInt64
    const id::UInt64
    const size::Int
    @atomic released::Bool
    function Page(bus::Bus, handle::UInt64, id::UInt64, size::Int)
        page = new(bus, handle, id, size, false)
        finalizer(queue_release, page)
    end
end

"""
The finalizer of a `Page`, also what `close` does: queue the handle once. It runs inside
the garbage collector, so it only pushes onto the lock-free queue: no I/O, no lock, no
task switch.
"""
function queue_release(page::Page)
    (@atomicswap page.released = true) || push!(page.bus.releases, page.handle)
    nothing
end

function page_from(bus::Bus, response::AbstractDict)
    Page(bus, as_u64(response["handle"], "handle"), as_u64(response["page"], "page"), as_int(response["size"], "size"))
end

Base.close(page::Page) = queue_release(page)
Base.isopen(page::Page) = !(@atomic page.released)
Base.sizeof(page::Page) = page.size

function Base.show(io::IO, page::Page)
    state = isopen(page) ? "handle $(page.handle)" : "closed"
    print(io, "MMSB.Page(", page.id, ", ", page.size, " bytes, ", state, ")")
end

"""The handle of an open page of `bus`, checked before it goes on the wire."""
function live_handle(page::Page, bus::Bus = page.bus)
    isopen(page) || throw(MmsbError(:HANDLE_UNKNOWN, "page $(page.id): this Page was closed"))
    page.bus === bus || throw(MmsbError(:HANDLE_FOREIGN, "page $(page.id) belongs to another bus"))
    page.handle
end

"""
    create_page(bus; size, location=:cpu, memory=nothing, metadata=nothing) -> Page

Creates a page of `size` bytes (all zero, epoch 0) and returns a handle to it. `memory`
is `:heap`, `:arena` or `:mapped` (the server chooses when `nothing`); `metadata` is a
dictionary of plain values stored with the page.
"""
function create_page(bus::Bus; size::Integer, location::Union{Symbol,AbstractString} = :cpu,
                     memory::Union{Nothing,Symbol,AbstractString} = nothing, metadata::Union{Nothing,AbstractDict} = nothing)
    arguments = Dict{String,Any}("size" => size, "location" => string(location))
    memory === nothing || (arguments["memory"] = string(memory))
    metadata === nothing || (arguments["metadata"] = metadata)
    page_from(bus, request(bus, "create", arguments))
end

"""
    open_page(bus, id) -> Page
    bus[id]

A handle to the existing page `id` (for a page made by another session or process).
Opening a page the session already holds returns the same handle, counted once more.
"""
open_page(bus::Bus, id::Integer) = page_from(bus, request(bus, "open", Dict{String,Any}("page" => id)))

Base.getindex(bus::Bus, id::Integer) = open_page(bus, id)

"""
    page_info(page) -> NamedTuple

The page's `id`, `size`, `epoch` (0 at creation, +1 per applied write), `location`,
`memory` and `metadata`, as the server has them now.
"""
function page_info(page::Page)
    info = request(page.bus, "info", Dict{String,Any}("handle" => live_handle(page)))
    (id = as_u64(info["page"], "page"), size = as_int(info["size"], "size"), epoch = as_int(info["epoch"], "epoch"),
     location = Symbol(info["location"]), memory = Symbol(info["memory"]), metadata = info["metadata"])
end

"""
    delete_page!(page) -> Int

Deletes the page from the bus (logged) and returns the LSN of the deletion. Every handle
to it, in any session, then fails with `PAGE_RELEASED`; the `Page` itself still holds
its handle until it is closed or collected.
"""
function delete_page!(page::Page)
    as_int(request(page.bus, "delete", Dict{String,Any}("handle" => live_handle(page)))["lsn"], "lsn")
end

"""
    update_page!(page, data::AbstractArray; expect_epoch=nothing)           # dense
    update_page!(page, mask, bytes; expect_epoch=nothing)                   # sparse
    update_page!(page, ranges::AbstractVector{<:Pair}; expect_epoch=nothing) # ranges
    -> (epoch, lsn)

Writes to the page and returns its new epoch and the LSN of the write. `data` is any
array of plain values whose bytes are exactly the page (`DELTA_SIZE_MISMATCH` otherwise).
A sparse write sets the bytes whose `mask` bit is set: `mask` is a `BitVector` over the
page's bytes or the packed mask bytes, `bytes` one byte per set bit in page order. Ranges
are `offset => bytes` pairs, 0-based, in offset order, not overlapping. With
`expect_epoch` the write applies only if the page is at that epoch (`EPOCH_CONFLICT`).
Dense and sparse payloads above the server's inline limit go through shared memory.
"""
function update_page! end

update_page!(page::Page, data::AbstractArray; expect_epoch::Union{Nothing,Integer} = nothing) =
    write_payload(page, payload(data), expect_epoch)

update_page!(page::Page, mask::AbstractVector, bytes::AbstractArray; expect_epoch::Union{Nothing,Integer} = nothing) =
    write_payload(page, payload((mask, bytes)), expect_epoch)

update_page!(page::Page, ranges::AbstractVector{<:Pair{<:Integer}}; expect_epoch::Union{Nothing,Integer} = nothing) =
    write_payload(page, payload(ranges), expect_epoch)

function write_payload(page::Page, payload::Payload, expect_epoch)
    bus = page.bus
    arguments, path = payload_fields(bus, payload, true)
    arguments["handle"] = live_handle(page)
    expect_epoch === nothing || (arguments["expectEpoch"] = expect_epoch)
    response = try
        request(bus, "write", arguments)
    finally
        path === nothing || rm(path; force = true)
    end
    (epoch = as_int(response["epoch"], "epoch"), lsn = as_int(response["lsn"], "lsn"))
end

"""
    query_page(page; offset=0, length=page.size - offset, via=:auto) -> AbstractVector{UInt8}
    page[]          # the whole page
    page[range]     # bytes at 1-based indices `range`

Reads the page's bytes. Small reads come inline as a `Vector{UInt8}` of their own. Reads
above the server's inline limit (or with `via=:shm`) come back as a read-only array over
the page's mapped read file, without a copy: it stays valid after the page is closed, but
the next shared-memory read of the same page rewrites it in place, so `copy` it to keep
it across reads. `via=:inline` forces a copy through the socket.
"""
function query_page(page::Page; offset::Integer = 0, length::Integer = page.size - offset, via::Symbol = :auto)
    via in (:auto, :inline, :shm) || throw(invalid_argument("via must be :auto, :inline or :shm, got :$via"))
    bus = page.bus
    bus.shm_usable || via === :shm || (via = :inline)
    arguments = Dict{String,Any}("handle" => live_handle(page), "offset" => offset, "length" => length, "via" => string(via))
    response = request(bus, "read", arguments)
    haskey(response, "bytes") && return Vector{UInt8}(response["bytes"])
    shm = response["shm"]
    map_read(string(shm["path"]), as_int(shm["offset"], "shm offset"), as_int(shm["length"], "shm length"))
end

"""
    query_page(page, T::Type) -> Vector{T}

The whole page as a new `Vector{T}` of plain values (a copy; the page size must be a
multiple of `sizeof(T)`).
"""
function query_page(page::Page, ::Type{T}) where {T}
    isbitstype(T) || throw(invalid_argument("$T is not a plain (bits) type"))
    page.size % sizeof(T) == 0 || throw(invalid_argument("a page of $(page.size) bytes is not a whole number of $T"))
    copy(reinterpret(T, query_page(page)))
end

Base.getindex(page::Page) = query_page(page)

function Base.getindex(page::Page, range::AbstractUnitRange{<:Integer})
    query_page(page; offset = first(range) - 1, length = Base.length(range))
end

"""
    add_dependency!(parent, child; kind=:data) -> Int

Adds the edge `parent → child` to the bus's dependency graph (a change of `parent`
propagates to `child`) and returns its LSN. `GRAPH_CYCLE` if it would close a cycle,
`EDGE_EXISTS` if it is there already.
"""
function add_dependency!(parent::Page, child::Page; kind::Union{Symbol,AbstractString} = :data)
    bus = parent.bus
    arguments = Dict{String,Any}("parent" => live_handle(parent), "child" => live_handle(child, bus), "kind" => string(kind))
    as_int(request(bus, "edge", arguments)["lsn"], "lsn")
end

"""
    remove_dependency!(parent, child) -> Int

Removes the edge `parent → child` and returns its LSN (`EDGE_NOT_FOUND` if there is none).
"""
function remove_dependency!(parent::Page, child::Page)
    bus = parent.bus
    arguments = Dict{String,Any}("parent" => live_handle(parent), "child" => live_handle(child, bus))
    as_int(request(bus, "unedge", arguments)["lsn"], "lsn")
end
