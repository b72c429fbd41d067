# The examples: quickstart.jl runs against the test server; the others need packages this
# machine cannot install (CUDA, DifferentialEquations, Lux) and are only parsed.

const EXAMPLES = joinpath(@__DIR__, "..", "examples")

@testset "examples" begin
    withenv("MMSB_ENDPOINT" => SERVER.endpoint) do
        output = mktemp() do path, io
            redirect_stdout(io) do
                Base.include(Module(:Quickstart), joinpath(EXAMPLES, "quickstart", "quickstart.jl"))
            end
            close(io)
            read(path, String)
        end
        @test occursin("replayed", output)
    end
    for file in ("quickstart_gpu/quickstart_gpu.jl", "diffeq/trajectory.jl", "lux/parameters.jl")
        path = joinpath(EXAMPLES, file)
        parsed = Meta.parseall(read(path, String); filename = path)
        @test !Meta.isexpr(parsed, (:error, :incomplete))
        @test !any(ex -> Meta.isexpr(ex, (:error, :incomplete)), parsed.args)
    end
    for dir in readdir(EXAMPLES; join = true)
        isdir(dir) && @test isfile(joinpath(dir, "Project.toml"))
    end
end
