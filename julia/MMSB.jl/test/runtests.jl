using MMSB
using Test

include("json.jl")
include("harness.jl")

const SUITES = ["package" => "package_test.jl", "pages" => "pages_test.jl", "handles" => "handles_test.jl",
                "errors" => "errors_test.jl", "conformance" => "conformance_test.jl", "examples" => "examples_test.jl"]

"""The shared server of the suites that need one (all but "package")."""
const SERVER = any(name -> name != "package" && selected(name), first.(SUITES)) ? start_test_server() : nothing

const STARTED = time()
try
    @testset "MMSB.jl" begin
        for (name, file) in SUITES
            selected(name) && include(file)
        end
    end
finally
    SERVER === nothing || close(SERVER)
    println("MMSB.jl test suite: $(round(time() - STARTED; digits = 1)) s against ", CLI)
end
