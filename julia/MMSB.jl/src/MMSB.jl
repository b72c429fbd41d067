"""
    MMSB

A Julia client of the MMSB memory bus: pages that live in an `mmsb serve` process and are
written, read, checkpointed, replayed and shared with other languages through the bridge
protocol v1 (docs/protocol.md). Start with [`mmsb_start`](@ref) or
[`MMSB.connect`](@ref).
"""
module MMSB

import Mmap
import MsgPack
import PrecompileTools
import SHA
import ZMQ

export MmsbError, Page, CommitNotification, Subscription,
       mmsb_start, create_page, open_page, page_info, delete_page!, update_page!, query_page,
       add_dependency!, remove_dependency!, batch_route_deltas!,
       checkpoint_log!, replay_log, query_log, get_stats, subscribe

include("errors.jl")
include("codec.jl")
include("release_queue.jl")
include("session.jl")
include("server.jl")
include("notifications.jl")
include("bus.jl")
include("shm.jl")
include("payloads.jl")
include("pages.jl")
include("log.jl")
include("subscriptions.jl")
include("precompile.jl")

end
