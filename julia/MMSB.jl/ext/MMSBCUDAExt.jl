# GPU interop with CUDA.jl: a page's bytes as a CuArray, a CuArray written to a page.
#
# Protocol v1 serves cpu pages only, so both directions copy through host memory: one
# read (zero-copy over shared memory for large pages) and one host-to-device copy. When
# the server exports device pointers for gpu pages, a CuArray over the page's own device
# memory (CUDA.unsafe_wrap, its lifetime tied to the Page) replaces the copy here.
module MMSBCUDAExt

using CUDA: CuArray, CuVector
import MMSB
using MMSB: Page

"""
    query_page(page, CuArray{T}) -> CuVector{T}

The whole page as a new `CuVector{T}` on the current device.
"""
MMSB.query_page(page::Page, ::Type{CuArray{T}}) where {T} = CuVector{T}(MMSB.query_page(page, T))

"""
    update_page!(page, data::CuArray{<:Number}; expect_epoch=nothing) -> (epoch, lsn)

Writes a device array as the page's bytes (dense), through one device-to-host copy.
"""
MMSB.update_page!(page::Page, data::CuArray{<:Number}; expect_epoch::Union{Nothing,Integer} = nothing) =
    MMSB.update_page!(page, Array(data); expect_epoch)

end
