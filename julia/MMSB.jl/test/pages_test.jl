# Pages through a real server: every write form, reads inline and over shared memory.

@testset "pages" begin
    MMSB.connect(SERVER.endpoint) do bus
        @test isopen(bus)
        @test MMSB.session(bus).protocol == 1
        @test occursin("session", sprint(show, bus))

        page = create_page(bus; size = 16, metadata = Dict("name" => "sensor"))
        @test page isa Page
        @test sizeof(page) == 16
        @test query_page(page) == zeros(UInt8, 16)
        info = page_info(page)
        @test info.id == page.id && info.size == 16 && info.epoch == 0
        @test info.location === :cpu
        @test info.metadata["name"] == "sensor"

        first_write = update_page!(page, UInt8.(1:16))
        @test first_write.epoch == 1
        @test page[] == UInt8.(1:16)
        @test page[3:4] == UInt8[3, 4]

        mask = falses(16)
        mask[[1, 16]] .= true
        @test update_page!(page, mask, UInt8[0xa0, 0xa1]).epoch == 2
        @test page[] == vcat(0xa0, UInt8.(2:15), 0xa1)

        second = update_page!(page, [0 => UInt8[9, 9], 8 => UInt8[7]])
        @test second.epoch == 3
        @test second.lsn > first_write.lsn
        @test page[1:2] == UInt8[9, 9] && page[9:9] == UInt8[7]

        update_page!(page, Float64[1.5, -2.0]; expect_epoch = 3)
        @test query_page(page, Float64) == [1.5, -2.0]
        @test page_info(page).epoch == 4

        again = bus[page.id]
        @test again.handle == page.handle
        @test again[] == page[]
        close(again)
        @test !isopen(again)
        @test_throws MmsbError again[]
        @test page[] == query_page(page)
        @test occursin("closed", sprint(show, again))
        close(page)
        close(page)
    end
end

@testset "shared memory" begin
    MMSB.connect(SERVER.endpoint) do bus
        limit = MMSB.session(bus).limits.max_inline_bytes
        size = 2 * limit
        page = create_page(bus; size)
        data = rand(UInt8, size)
        # The bridge counts from the server's side: it reads what the client writes.
        before = get_stats(bus).bridge["shmBytesRead"]
        update_page!(page, data)
        @test get_stats(bus).bridge["shmBytesRead"] - before == size
        @test isempty(filter(name -> startswith(name, "w"), readdir(MMSB.session(bus).shm_dir)))

        read_before = get_stats(bus).bridge["shmBytesWritten"]
        mapped = query_page(page)
        @test get_stats(bus).bridge["shmBytesWritten"] - read_before == size
        @test mapped == data
        @test_throws ReadOnlyMemoryError (mapped[1] = 0x00)
        inline = query_page(page; via = :inline)
        @test inline isa Vector{UInt8} && inline == data
        small = query_page(page; offset = 10, length = 5, via = :shm)
        @test small == data[11:15]

        # The mapping outlives the handle and the read file; its bytes are those of the last read.
        kept = query_page(page)
        close(page)
        get_stats(bus)
        @test kept == data
    end
end

@testset "dependencies and batches" begin
    MMSB.connect(SERVER.endpoint) do bus
        a = create_page(bus; size = 8)
        b = create_page(bus; size = 8)
        @test add_dependency!(a, b) > 0
        @test error_code(() -> add_dependency!(b, a)) === :GRAPH_CYCLE
        @test error_code(() -> add_dependency!(a, b)) === :EDGE_EXISTS
        @test remove_dependency!(a, b) > 0
        @test error_code(() -> remove_dependency!(a, b)) === :EDGE_NOT_FOUND

        result = batch_route_deltas!(bus, [a => fill(0x01, 8), b => [2 => UInt8[5]]])
        @test result.count == 2
        @test a[] == fill(0x01, 8) && b[3:3] == UInt8[5]
        # All or none: the bad second delta leaves the first unapplied.
        @test error_code(() -> batch_route_deltas!(bus, [a => fill(0x02, 8), b => zeros(UInt8, 3)])) === :DELTA_SIZE_MISMATCH
        @test a[] == fill(0x01, 8)
    end
end

@testset "log, checkpoint and replay" begin
    MMSB.connect(SERVER.endpoint) do bus
        page = create_page(bus; size = 4)
        early = update_page!(page, UInt8[1, 2, 3, 4])
        update_page!(page, UInt8[5, 6, 7, 8])
        log = query_log(bus)
        @test log.lsn >= early.lsn + 1
        @test log.durable_lsn <= log.lsn
        checkpoint = checkpoint_log!(bus; full = true)
        @test checkpoint.full && checkpoint.lsn == log.lsn
        replayed = replay_log(bus, early.lsn, [page])
        @test replayed.lsn == early.lsn
        @test length(replayed.hash) == 64
        @test only(replayed.pages).page === page
        @test only(replayed.pages).bytes == UInt8[1, 2, 3, 4]
        @test only(replayed.pages).epoch == 1
        @test page[] == UInt8[5, 6, 7, 8]
        stats = get_stats(bus)
        @test stats.session["handles"] == 1
        @test stats.bus["lsn"] == query_log(bus).lsn
    end
end

@testset "subscriptions" begin
    MMSB.connect(SERVER.endpoint) do bus
        seen = Channel{CommitNotification}(64)
        subscription = subscribe(note -> put!(seen, note), bus)
        @test isopen(subscription)
        page = create_page(bus; size = 4)
        # SUB sockets join late: write until a notification arrives.
        deadline = time() + 10
        while !isready(seen) && time() < deadline
            update_page!(page, rand(UInt8, 4))
            sleep(0.05)
        end
        @test isready(seen)
        note = take!(seen)
        @test page.id in note.pages
        @test note.first_lsn <= note.last_lsn
        @test note.source === :bridge
        close(subscription)
        @test !isopen(subscription)
        close(subscription)
        another = subscribe(_ -> nothing, bus)
        close(bus)
        @test !isopen(another)
    end
end

@testset "signed messages" begin
    endpoint = server(:signed).endpoint
    MMSB.connect(endpoint; key = KEY) do bus
        seen = Channel{CommitNotification}(64)
        subscription = subscribe(note -> put!(seen, note), bus)
        page = create_page(bus; size = 4)
        update_page!(page, UInt8[1, 2, 3, 4])
        @test page[] == UInt8[1, 2, 3, 4]
        deadline = time() + 10
        while !isready(seen) && time() < deadline
            update_page!(page, rand(UInt8, 4))
            sleep(0.05)
        end
        @test isready(seen)
        close(subscription)
    end
    # Unsigned or wrongly signed requests are dropped without a response.
    @test error_code(() -> MMSB.connect(endpoint; timeout = 0.5)) === :BRIDGE_TIMEOUT
    @test error_code(() -> MMSB.connect(endpoint; timeout = 0.5, key = "wrong")) === :BRIDGE_TIMEOUT
end
