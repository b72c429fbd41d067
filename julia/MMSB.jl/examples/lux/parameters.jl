# Lux.jl parameters as pages: one page per layer's weights, checkpointed, then loaded onto
# the GPU through MMSBCUDAExt when a device is present.
#
#   julia --project=examples/lux examples/lux/parameters.jl
#
# Needs Lux.jl and CUDA.jl; not run by the test suite (only parsed).
using MMSB
using CUDA
using Lux
using Random

model = Chain(Dense(4 => 16, tanh), Dense(16 => 2))
parameters, _ = Lux.setup(Random.default_rng(), model)

mmsb_start(; data = mktempdir()) do bus
    pages = Dict{Tuple{Symbol,Symbol},Page}()
    for (layer, values) in pairs(parameters), (name, array) in pairs(values)
        page = create_page(bus; size = sizeof(array), metadata = Dict("layer" => String(layer), "name" => String(name)))
        update_page!(page, array)
        pages[(layer, name)] = page
    end
    println("checkpoint at LSN ", checkpoint_log!(bus; full = true).lsn)

    weight = pages[(:layer_1, :weight)]
    restored = reshape(query_page(weight, Float32), size(parameters.layer_1.weight))
    println("layer_1 weight restored: ", restored == parameters.layer_1.weight)

    if CUDA.functional()
        on_gpu = reshape(query_page(weight, CuArray{Float32}), size(restored))
        println("layer_1 weight on the GPU: ", typeof(on_gpu), " ", size(on_gpu))
    end
end
