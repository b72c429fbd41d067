# MMSB.jl quickstart: pages on a bus, three kinds of writes, a checkpoint and a replay.
#
#   julia --project=examples/quickstart examples/quickstart/quickstart.jl
#
# Connects to the server at MMSB_ENDPOINT, or starts one of its own on a temporary
# directory (needs `mmsb` on the PATH or MMSB_CLI naming packages/bus/bin/mmsb.js).
using MMSB

function quickstart(bus)
    sensor = create_page(bus; size = 16, metadata = Dict("name" => "sensor"))
    println("created ", sensor)

    update_page!(sensor, UInt8.(0:15))                        # dense: every byte
    first = update_page!(sensor, [0 => UInt8[0xff, 0xff]])    # ranges: offset => bytes
    mask = falses(16)
    mask[16] = true
    update_page!(sensor, mask, UInt8[0xee])                   # sparse: masked bytes
    println("now      ", sensor[])

    checkpoint = checkpoint_log!(bus)
    println("checkpoint at LSN ", checkpoint.lsn)
    earlier = replay_log(bus, first.lsn, [sensor])
    println("replayed LSN ", earlier.lsn, ": ", only(earlier.pages).bytes)

    try
        update_page!(sensor, zeros(UInt8, 3))
    catch err
        err isa MmsbError || rethrow()
        println("refused: ", err.code)
    end
    println("session holds ", get_stats(bus).session["handles"], " handle(s)")
    close(sensor)
end

endpoint = get(ENV, "MMSB_ENDPOINT", nothing)
if endpoint === nothing
    mmsb_start(quickstart; data = mktempdir())
else
    MMSB.connect(quickstart, endpoint)
end
