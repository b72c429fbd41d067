# The examples: quickstart.jl runs against the test server; the others, and the CUDA
# extension, need packages this machine cannot install (CUDA, DifferentialEquations, Lux)
# and are only parsed.

const PACKAGE_DIR = joinpath(@__DIR__, "..")
const EXAMPLES = joinpath(PACKAGE_DIR, "examples")

"""Whether Julia's own parser reads all of `source` without an error."""
function parses(source::AbstractString, filename = "source")
    parsed = Meta.parseall(source; filename)
    !any(ex -> Meta.isexpr(ex, (:error, :incomplete)), parsed.args)
end

parses_file(path) = parses(read(path, String), path)

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
        @test occursin("refused: DELTA_SIZE_MISMATCH", output)
    end
    for file in ("quickstart_gpu/quickstart_gpu.jl", "diffeq/trajectory.jl", "lux/parameters.jl")
        @test parses_file(joinpath(EXAMPLES, file))
    end
    for dir in readdir(EXAMPLES; join = true)
        isdir(dir) && @test isfile(joinpath(dir, "Project.toml"))
    end
end

@testset "CUDA extension" begin
    project = read(joinpath(PACKAGE_DIR, "Project.toml"), String)
    @test occursin("MMSBCUDAExt = \"CUDA\"", project)
    @test parses_file(joinpath(PACKAGE_DIR, "ext", "MMSBCUDAExt.jl"))
    # The check can fail.
    @test !parses("update_page!(page, data")
    @test !parses("x = )")
end
