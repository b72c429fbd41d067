# Each code a running server can be made to answer, as the MmsbError it becomes.

@testset "error mapping (live)" begin
    MMSB.connect(SERVER.endpoint) do bus
        page = create_page(bus; size = 8)
        code(f) = error_code(f)
        request(op, arguments = Dict{String,Any}()) = code(() -> MMSB.request(bus, op, arguments))

        @test code(() -> create_page(bus; size = 0)) === :PAGE_SIZE_INVALID
        if isempty(Base.Libc.Libdl.find_library(["libcuda"]))
            @test code(() -> create_page(bus; size = 8, location = :gpu)) === :CUDA_UNAVAILABLE
        end
        @test code(() -> create_page(bus; size = 8, location = :moon)) === :LOCATION_UNKNOWN
        @test code(() -> create_page(bus; size = 8192, memory = :arena)) === :MEMORY_UNSUITABLE
        @test code(() -> update_page!(page, zeros(UInt8, 3))) === (PLANTED ? :EPOCH_CONFLICT : :DELTA_SIZE_MISMATCH)
        @test code(() -> update_page!(page, [6 => UInt8[1, 2, 3]])) === :RANGE_OUT_OF_BOUNDS
        @test code(() -> update_page!(page, [0 => UInt8[1, 2], 1 => UInt8[3]])) === :RANGE_OVERLAP
        @test code(() -> update_page!(page, zeros(UInt8, 8); expect_epoch = 99)) === :EPOCH_CONFLICT
        @test code(() -> query_page(page; offset = 4, length = 8)) === :RANGE_OUT_OF_BOUNDS
        @test code(() -> replay_log(bus, 10^12, [page])) === :LSN_OUT_OF_RANGE
        @test code(() -> open_page(bus, 10^9)) === :PAGE_NOT_FOUND
        @test request("create", Dict{String,Any}("size" => "eight")) === :INVALID_ARGUMENT
        @test request("create", Dict{String,Any}("size" => 8, "metadata" => "not a map")) === :INVALID_ARGUMENT
        @test request("no-such-op") === :UNKNOWN_OPERATION
        @test request("read", Dict{String,Any}("handle" => UInt64(10)^12)) === :HANDLE_UNKNOWN
        @test request("read", Dict{String,Any}("handle" => UInt64(2)^53)) === :ID_UNREPRESENTABLE
        @test request("read", Dict{String,Any}("handle" => -1)) === :INVALID_ARGUMENT
        @test request("write", Dict{String,Any}("handle" => page.handle, "form" => "dense",
                                                "shm" => Dict("name" => "w-missing", "offset" => 0, "length" => 8))) === :SHM_INVALID
        @test request("hello", Dict{String,Any}("versions" => [1])) === :INVALID_ARGUMENT
        MMSB.connect(SERVER.endpoint) do other
            foreign = create_page(other; size = 8)
            @test request("read", Dict{String,Any}("handle" => foreign.handle)) === :HANDLE_FOREIGN
            @test code(() -> add_dependency!(page, foreign)) === :HANDLE_FOREIGN
        end
        huge = create_page(bus; size = MMSB.session(bus).limits.max_message_bytes + 1)
        @test code(() -> query_page(huge; via = :inline)) === :MESSAGE_TOO_LARGE
        close(huge)
        deltas = [page => [0 => UInt8[1]] for _ in 1:(MMSB.session(bus).limits.max_batch_deltas + 1)]
        @test code(() -> batch_route_deltas!(bus, deltas)) === :BATCH_TOO_LARGE

        doomed = create_page(bus; size = 8)
        @test delete_page!(doomed) > 0
        @test code(() -> doomed[]) === :PAGE_RELEASED
        close(page)
        @test code(() -> page[]) === :HANDLE_UNKNOWN
    end

    socket = raw_socket(SERVER.endpoint)
    try
        @test raw_exchange(socket, UInt8[0xc1, 0x00])["code"] == "MALFORMED_REQUEST"
        @test raw_request(socket, Dict("v" => 1, "rid" => 1, "op" => "ping"))["code"] == "SESSION_UNKNOWN"
        @test raw_request(socket, Dict("v" => 2, "rid" => 2, "op" => "ping"))["code"] == "PROTOCOL_VERSION"
        @test raw_request(socket, Dict("v" => 1, "rid" => 3, "op" => "hello", "versions" => [7]))["code"] == "PROTOCOL_VERSION"
    finally
        close(socket)
    end

    # No server at all: the client's own timeout.
    nowhere = "ipc://$(joinpath(mktempdir(), "nobody.sock"))"
    @test error_code(() -> MMSB.connect(nowhere; timeout = 0.3)) === :BRIDGE_TIMEOUT
    @test error_code(() -> MMSB.connect(SERVER.endpoint; timeout = -1)) === :INVALID_ARGUMENT
end
