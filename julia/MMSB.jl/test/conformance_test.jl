# The protocol's conformance vectors: request bytes in order over one connection to a fresh
# in-memory server, each decoded response equal to the expected one but for `ignore`d keys.

const VECTORS = joinpath(REPO, "packages", "julia-bridge", "vectors", "v1.json")

"""Decoded msgpack values compared as values: integers of any width, maps by key."""
same(a, b) = a == b
same(a::AbstractDict, b::AbstractDict) = keys(a) == keys(b) && all(k -> same(a[k], b[k]), keys(a))
same(a::AbstractVector, b::AbstractVector) = length(a) == length(b) && all(same.(a, b))

without(response::AbstractDict, ignored) = Dict(k => v for (k, v) in response if !(k in ignored))

@testset "conformance vectors" begin
    @test isfile(VECTORS)
    cases = MiniJSON.parse(read(VECTORS, String))["cases"]
    @test !isempty(cases)
    server = start_test_server(; data = ":memory:")
    socket = raw_socket(server.endpoint)
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
        close(server)
    end
end
