# The package as a reader sees it: names, methods, error codes.

@testset "package" begin
    @test all(n -> isdefined(MMSB, n), names(MMSB))
    @test isempty(Test.detect_ambiguities(MMSB))
    # Every exported name has a docstring of its own (Base.Docs.hasdoc is Julia 1.11+).
    documented = Base.Docs.meta(MMSB)
    for name in names(MMSB)
        @test haskey(documented, Base.Docs.Binding(MMSB, name))
    end
end

@testset "error codes" begin
    # @mmsb/bus's ErrorCode, in its order; it ends with the bridge's table of docs/protocol.md.
    errors_ts = read(joinpath(REPO, "packages", "bus", "src", "errors.ts"), String)
    block = match(r"export const ErrorCode = \{(.*?)\}"s, errors_ts).captures[1]
    bus_codes = [Symbol(m.captures[1]) for m in eachmatch(r"^\s*([A-Z_]+):"m, block)]
    protocol = read(joinpath(REPO, "docs", "protocol.md"), String)
    table = split(split(protocol, "## Error codes")[2], "## ")[1]
    bridge_codes = [Symbol(m.captures[1]) for m in eachmatch(r"^\| `([A-Z_]+)` \|"m, table)]
    @test length(bridge_codes) == 11
    @test collect(MMSB.ERROR_CODES) == bus_codes
    @test bus_codes[end-length(bridge_codes)+1:end] == bridge_codes

    for code in MMSB.ERROR_CODES
        err = MMSB.response_error(Dict{Any,Any}("ok" => false, "code" => String(code), "message" => "m $code"))
        @test err isa MmsbError
        @test err.code === code
        @test err.message == "m $code"
        @test sprint(showerror, err) == "MmsbError($code): m $code"
    end
    unknown = MMSB.response_error(Dict{Any,Any}("ok" => false, "code" => "FROM_THE_FUTURE", "message" => "x"))
    @test unknown.code === :INTERNAL
    @test occursin("FROM_THE_FUTURE", unknown.message)
    @test_throws ArgumentError MmsbError(:NOT_A_CODE, "x")
end

@testset "release queue" begin
    queue = MMSB.ReleaseQueue()
    @test isempty(queue)
    @test MMSB.take_all!(queue) == UInt64[]
    foreach(i -> push!(queue, UInt64(i)), 1:5)
    @test !isempty(queue)
    @test MMSB.take_all!(queue) == UInt64.(1:5)
    @test isempty(queue)
    # Pushes from several threads (run-tests.sh runs the suite with two), while another
    # thread takes, lose and duplicate nothing.
    taken = UInt64[]
    pushing = Threads.Atomic{Bool}(true)
    taker = Threads.@spawn while pushing[] || !isempty(queue)
        append!(taken, MMSB.take_all!(queue))
        yield()
    end
    Threads.@threads for i in 1:20_000
        push!(queue, UInt64(i))
    end
    pushing[] = false
    wait(taker)
    @test sort(taken) == UInt64.(1:20_000)
end

@testset "codec" begin
    bytes = MMSB.encode(Dict{String,Any}("b" => MMSB.Bin(UInt8[1, 2]), "h" => typemax(UInt64)))
    decoded = MMSB.decode(bytes)
    @test decoded["b"] == UInt8[1, 2]
    @test decoded["h"] === typemax(UInt64)
    @test MMSB.as_bytes(Float64[1.5]) == reinterpret(UInt8, [1.5])
    @test MMSB.as_bytes(view(UInt8[1, 2, 3, 4], 1:2:3)) == UInt8[1, 3]
    @test_throws MmsbError MMSB.as_bytes(Any[1])
    @test_throws MmsbError MMSB.decode(UInt8[0xc1])
    @test MMSB.packed_mask(BitVector([1, 0, 0, 0, 0, 0, 0, 0, 1])) == UInt8[0x01, 0x01]
end
