# The bulk path: the session's shared-memory directory, read through mmap.
#
# Lifetime of a mapped read: the server writes a handle's read file `shmDir/h<handle>` in
# place on every shared-memory read of that handle and removes it when the handle is freed.
# The array returned here owns its own mapping (Mmap unmaps it when the array is collected),
# so it stays valid after the page is released, the file removed or the session ended; but
# its bytes change when the same page is read through shared memory again. The mapping is
# read-only: writing to it throws ReadOnlyMemoryError.

"""The bytes `offset:offset+length-1` of a read file, as a read-only array over its mapping."""
function map_read(path::AbstractString, offset::Integer, length::Integer)
    length == 0 && return UInt8[]
    open(path, "r") do io
        Mmap.mmap(io, Vector{UInt8}, (Int(length),), Int64(offset); shared = true)
    end
end

"""
Writes `bytes` to a new file in the session's directory and returns its protocol
reference, with the path for removal. Names start with `w` (the server's read files start
with `h`).
"""
function write_shm_file(bus::Bus, bytes::AbstractVector{UInt8})
    name = "w-" * string(rand(UInt64); base = 16, pad = 16)
    path = joinpath(bus.info.shm_dir, name)
    open(path, "w") do io
        write(io, bytes)
    end
    Dict{String,Any}("name" => name, "offset" => 0, "length" => length(bytes)), path
end
