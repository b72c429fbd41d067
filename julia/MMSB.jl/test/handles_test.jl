# The garbage collector and the server's handle table: finalizers only queue, releases
# reach the server, nothing leaks.

"""Creates pages and drops them at once; @noinline so no reference survives in this frame."""
@noinline function make_garbage(bus, count)
    for _ in 1:count
        create_page(bus; size = 64)
    end
    nothing
end

@testset "finalizers" begin
    MMSB.connect(SERVER.endpoint) do bus
        # With the bus's timer stopped, released handles wait in the queue for a request.
        close(bus.timer)
        make_garbage(bus, 3)
        GC.gc(true)
        queued = MMSB.take_all!(bus.releases)
        @test length(queued) == 3
        MMSB.requeue!(bus.releases, queued)
        @test get_stats(bus).session["handles"] == 0
        @test isempty(bus.releases)

        # A finalizer completes while another task holds the bus's lock: it neither locks nor
        # does I/O. (Julia defers finalizers while a ReentrantLock is held; `finalize` runs
        # them now.)
        pages = [create_page(bus; size = 8) for _ in 1:2]
        holding = Base.Event()
        finished = Base.Event()
        holder = @async lock(bus.lock) do
            notify(holding)
            wait(finished)
        end
        wait(holding)
        finalizing = @async foreach(finalize, pages)
        @test timedwait(() -> istaskdone(finalizing), 5.0) === :ok
        @test sort(MMSB.take_all!(bus.releases)) == sort([page.handle for page in pages])
        notify(finished)
        wait(holder)
        @test all(!isopen, pages)

        # An explicitly closed page is released once, not again by its finalizer.
        page = create_page(bus; size = 8)
        close(page)
        finalize(page)
        @test MMSB.take_all!(bus.releases) == [page.handle]
    end
end

@testset "periodic flush" begin
    MMSB.connect(SERVER.endpoint) do bus
        MMSB.connect(SERVER.endpoint) do observer
            make_garbage(bus, 5)
            GC.gc(true)
            # No request of `bus` carries the queue: its timer sends it within heartbeatMs.
            @test timedwait(() -> isempty(bus.releases), 5.0) === :ok
            @test timedwait(() -> get_stats(observer).bridge["handles"] == 0, 5.0) === :ok
        end
    end
end

@testset "GC stress" begin
    MMSB.connect(SERVER.endpoint) do bus
        kept = create_page(bus; size = 16)
        for round in 1:20
            make_garbage(bus, 50)
            round % 10 == 0 && GC.gc(true)
            # Pages shared between tasks and collected while requests are in flight.
            @sync for _ in 1:4
                @async update_page!(kept, rand(UInt8, 16))
            end
        end
        GC.gc(true)
        GC.gc(true)
        stats = get_stats(bus)
        @test stats.session["handles"] == 1
        @test stats.session["references"] == 1
        kept = nothing
        GC.gc(true)
        @test get_stats(bus).session["handles"] == 0
        @test get_stats(bus).bridge["requests"] > 1000
    end
end

@testset "close releases everything" begin
    bus = MMSB.connect(SERVER.endpoint)
    pages = [create_page(bus; size = 8) for _ in 1:10]
    MMSB.connect(SERVER.endpoint) do observer
        @test get_stats(observer).bridge["handles"] == 10
        close(bus)
        close(bus)
        @test !isopen(bus)
        @test get_stats(observer).bridge["handles"] == 0
    end
    @test error_code(() -> pages[1][]) === :SESSION_UNKNOWN
    @test occursin("closed", sprint(show, bus))
end

@testset "session expiry" begin
    endpoint = server(:expiry).endpoint
    bus = MMSB.connect(endpoint; keepalive = false)
    page = create_page(bus; size = 8)
    MMSB.connect(endpoint) do observer
        @test get_stats(observer).bridge["handles"] == 1
        # The silent session expires; the observer's timer keeps its own alive.
        @test timedwait(() -> get_stats(observer).bridge["handles"] == 0, SHORT_SESSION_TIMEOUT_MS / 1000 * 5) === :ok
        @test get_stats(observer).bridge["sessions"] == 1
    end
    @test error_code(() -> page[]) === :SESSION_UNKNOWN
    close(bus)
end

@testset "mmsb_start and closing" begin
    # mmsb_start owns its server: closing the bus stops it.
    bus = mmsb_start(; data = mktempdir(), cli = CLI)
    server = bus.server
    page = create_page(bus; size = 4)
    update_page!(page, UInt8[1, 2, 3, 4])
    @test isopen(server)
    close(bus)
    @test !isopen(server)
    @test occursin("stopped", sprint(show, server))

    # A bus whose server is gone still closes, without waiting for the full timeout.
    server = MMSB.start_server(; data = ":memory:", cli = CLI)
    bus = MMSB.connect(server.endpoint; timeout = 60)
    close(server)
    @test @elapsed(close(bus)) < 10
    @test !isopen(bus)
    # A server that cannot start is reported with its output.
    failed = try
        MMSB.start_server(; data = ":memory:", cli = CLI, args = ["--no-such-flag"])
    catch err
        err
    end
    @test failed isa ErrorException
    @test occursin("mmsb serve exited", failed.msg)
end
