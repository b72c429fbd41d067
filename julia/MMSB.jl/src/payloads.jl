# The three payload forms of a write, as the protocol's fields.

"""Replaces every byte of the page."""
struct DensePayload
    bytes::AbstractVector{UInt8}
end

"""Writes the bytes whose mask bit is set (bit `i % 8` of `mask[i ÷ 8 + 1]` is byte `i`)."""
struct SparsePayload
    mask::AbstractVector{UInt8}
    bytes::AbstractVector{UInt8}
end

"""Writes at 0-based byte offsets, in offset order, not overlapping."""
struct RangesPayload
    ranges::Vector{Pair{Int,AbstractVector{UInt8}}}
end

const Payload = Union{DensePayload,SparsePayload,RangesPayload}

payload(data::AbstractArray) = DensePayload(as_bytes(data))
payload(ranges::AbstractVector{<:Pair{<:Integer}}) =
    RangesPayload([Int(offset) => as_bytes(bytes) for (offset, bytes) in ranges])
payload(sparse::Tuple{AbstractVector,AbstractArray}) = SparsePayload(packed_mask(sparse[1]), as_bytes(sparse[2]))

packed_mask(mask::AbstractVector{UInt8}) = mask

"""A `BitVector` over the page's bytes, packed as the protocol's mask (least significant bit first)."""
function packed_mask(mask::BitVector)
    packed = zeros(UInt8, cld(length(mask), 8))
    for i in findall(mask)
        packed[(i - 1) >> 3 + 1] |= UInt8(1) << ((i - 1) & 7)
    end
    packed
end

packed_mask(mask::AbstractVector) =
    throw(invalid_argument("a sparse mask is packed bytes (Vector{UInt8}) or a BitVector, got $(typeof(mask))"))

"""
The fields of `payload` for a `write` or a `batch` delta. With `shm`, a dense or sparse
payload above the inline limit goes through a file in the session's directory; its path
is returned for removal after the request.
"""
function payload_fields(bus::Bus, payload::DensePayload, shm::Bool)
    fields = Dict{String,Any}("form" => "dense")
    path = attach_bytes!(fields, bus, payload.bytes, shm)
    fields, path
end

function payload_fields(bus::Bus, payload::SparsePayload, shm::Bool)
    fields = Dict{String,Any}("form" => "sparse", "mask" => Bin(payload.mask))
    path = attach_bytes!(fields, bus, payload.bytes, shm)
    fields, path
end

function payload_fields(::Bus, payload::RangesPayload, ::Bool)
    ranges = [Any[offset, Bin(bytes)] for (offset, bytes) in payload.ranges]
    Dict{String,Any}("form" => "ranges", "ranges" => ranges), nothing
end

function attach_bytes!(fields::Dict{String,Any}, bus::Bus, bytes::AbstractVector{UInt8}, shm::Bool)
    if shm && bus.shm_usable && length(bytes) > bus.info.limits.max_inline_bytes
        fields["shm"], path = write_shm_file(bus, bytes)
        return path
    end
    fields["bytes"] = Bin(bytes)
    nothing
end
