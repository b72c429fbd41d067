# MMSB.jl with CUDA.jl: a page's bytes as a CuArray and back (the MMSBCUDAExt extension).
#
#   julia --project=examples/quickstart_gpu examples/quickstart_gpu/quickstart_gpu.jl
#
# Needs a CUDA device and CUDA.jl; not run by the test suite (only parsed).
using MMSB
using CUDA

mmsb_start(; data = mktempdir()) do bus
    n = 1024
    field = create_page(bus; size = n * sizeof(Float32), metadata = Dict("name" => "field"))
    update_page!(field, CUDA.rand(Float32, n))          # device → page
    on_device = query_page(field, CuArray{Float32})     # page → device
    on_device .= sqrt.(on_device)
    update_page!(field, on_device)
    println("sum on the device: ", sum(on_device), ", epoch ", page_info(field).epoch)
end
