using MMSB
using Test

include("json.jl")
include("harness.jl")

const SUITES = ["package" => "package_test.jl", "pages" => "pages_test.jl", "handles" => "handles_test.jl",
                "errors" => "errors_test.jl", "conformance" => "conformance_test.jl", "examples" => "examples_test.jl"]

"""The server most testsets share."""
const SERVER = haskey(SERVERS, :shared) ? server(:shared) : nothing

const STARTED = time()
try
    @testset "MMSB.jl" verbose = true begin
        for (name, file) in SUITES
            selected(name) && include(file)
        end
    end
finally
    stop_servers()
    println("MMSB.jl test suite: $(round(time() - STARTED; digits = 1)) s against ", CLI)
end
