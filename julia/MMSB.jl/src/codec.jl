# The msgpack side of the protocol: plain types only, binaries marked as such.

"""
A byte payload to be written as a msgpack `bin` (MsgPack.jl writes a plain vector as an
array). It borrows `data`; encode it before `data` changes.
"""
struct Bin
    data::AbstractVector{UInt8}
end

MsgPack.msgpack_type(::Type{Bin}) = MsgPack.BinaryType()
MsgPack.to_msgpack(::MsgPack.BinaryType, bin::Bin) = bin.data

"""
    as_bytes(data::AbstractArray) -> AbstractVector{UInt8}

The bytes of an array of plain values (numbers, bit-type structs), in memory order. A
contiguous array is viewed, not copied; anything else is copied once.
"""
function as_bytes(data::AbstractArray{T}) where {T}
    isbitstype(T) || throw(invalid_argument("page data must be an array of plain (bits) values, got eltype $T"))
    T === UInt8 && data isa Vector{UInt8} && return data
    dense = data isa DenseArray ? vec(data) : collect(vec(data))
    reinterpret(UInt8, dense)
end

encode(message::AbstractDict) = MsgPack.pack(message)

"""
The decoded body of a message. A body that is not msgpack is reported as a broken
response (`INTERNAL`), never passed on.
"""
function decode(body::AbstractVector{UInt8})
    try
        MsgPack.unpack(body)
    catch err
        throw(MmsbError(:INTERNAL, "undecodable message from the server: $(sprint(showerror, err))"))
    end
end

"""The 32-byte HMAC-SHA256 signature of a body, as the protocol signs frames with a key."""
sign_body(key::Vector{UInt8}, body::AbstractVector{UInt8}) = SHA.hmac_sha256(key, body)

"""The protocol's integers (ids, LSNs, sizes) from a decoded value, checked."""
function as_u64(value, what::AbstractString)
    value isa Integer && value >= 0 || throw(MmsbError(:INTERNAL, "the server sent $(repr(value)) as $what"))
    UInt64(value)
end

as_int(value, what::AbstractString) = Int(as_u64(value, what))
