# The protocol's conformance vectors: request bytes in order over one connection to a fresh
# server with `mmsb serve`'s defaults on a new, empty data directory, each decoded response
# equal to the expected one but for the `ignore`d (dotted) paths.

const VECTORS = joinpath(REPO, "packages", "julia-bridge", "vectors", "v1.json")

"""Decoded msgpack values compared as values: integers of any width, maps by key."""
same(a, b) = a == b
same(a::AbstractDict, b::AbstractDict) = keys(a) == keys(b) && all(k -> same(a[k], b[k]), keys(a))
same(a::AbstractVector, b::AbstractVector) = length(a) == length(b) && all(same.(a, b))

"""`response` without the `ignore`d keys; a dotted key (`shm.path`) names a key of a nested map."""
function without(response::AbstractDict, ignored)
    kept = Dict{Any,Any}(response)
    for key in ignored
        path = split(key, '.')
        map = kept
        for step in path[1:end-1]
            map = get(map, step, nothing)
            map isa AbstractDict || break
        end
        if map isa AbstractDict
            nested = path[1:end-1]
            isempty(nested) || (map = copy_path!(kept, nested))
            delete!(map, path[end])
        end
    end
    kept
end

"""A packed response (an array of response bodies, docs/protocol.md "Packed messages") is compared whole."""
without(response::AbstractVector, ignored) = response

"""Copies the maps along `path` in `root` (so deleting from them leaves the response intact)."""
function copy_path!(root::Dict, path)
    map = root
    for step in path
        map[step] = Dict{Any,Any}(map[step])
        map = map[step]
    end
    map
end

@testset "conformance vectors" begin
    @test isfile(VECTORS)
    cases = MiniJSON.parse(read(VECTORS, String))["cases"]
    @test !isempty(cases)
    socket = raw_socket(server(:conformance).endpoint)
    try
        for case in cases
            response = raw_exchange(socket, hex2bytes(case["request"]))
            expected = MMSB.decode(hex2bytes(case["response"]))
            ignored = get(case, "ignore", Any[])
            agrees = same(without(response, ignored), without(expected, ignored))
            agrees || @info "conformance case $(case["name"])" response expected
            @test agrees
        end
    finally
        close(socket)
    end
end
