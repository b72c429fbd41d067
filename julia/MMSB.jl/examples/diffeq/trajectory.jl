# Solver state in pages: a Lotka–Volterra trajectory written step by step, checkpointed,
# then an earlier state replayed from the log.
#
#   julia --project=examples/diffeq examples/diffeq/trajectory.jl
#
# Needs DifferentialEquations.jl; not run by the test suite (only parsed).
using MMSB
using DifferentialEquations

function lotka_volterra!(du, u, p, t)
    α, β, γ, δ = p
    du[1] = α * u[1] - β * u[1] * u[2]
    du[2] = δ * u[1] * u[2] - γ * u[2]
end

mmsb_start(; data = mktempdir()) do bus
    state = create_page(bus; size = 2 * sizeof(Float64), metadata = Dict("model" => "lotka-volterra"))
    problem = ODEProblem(lotka_volterra!, [1.0, 1.0], (0.0, 10.0), (1.5, 1.0, 3.0, 1.0))
    integrator = init(problem, Tsit5(); saveat = 0.5)
    lsns = Int[]
    for (u, t) in tuples(integrator)
        push!(lsns, update_page!(state, u).lsn)       # each step logged
    end
    checkpoint_log!(bus)
    midway = lsns[cld(length(lsns), 2)]
    then = replay_log(bus, midway, [state])
    println("state at LSN $midway: ", reinterpret(Float64, only(then.pages).bytes))
    println("final state: ", query_page(state, Float64))
end
