# A small JSON reader for the conformance vectors (the offline depot has no JSON package).

module MiniJSON

function parse(text::AbstractString)
    value, position = parse_value(text, skip_space(text, firstindex(text)))
    skip_space(text, position) > lastindex(text) || error("JSON: trailing text at $position")
    value
end

skip_space(text, i) = (while i <= lastindex(text) && isspace(text[i]); i = nextind(text, i); end; i)

function parse_value(text, i)
    c = text[i]
    c == '{' && return parse_object(text, i)
    c == '[' && return parse_array(text, i)
    c == '"' && return parse_string(text, i)
    for (word, value) in (("true", true), ("false", false), ("null", nothing))
        startswith(SubString(text, i), word) && return value, i + length(word)
    end
    m = match(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", text, i)
    (m === nothing || m.offset != i) && error("JSON: unexpected $(repr(c)) at $i")
    number = m.captures[1] === nothing && m.captures[2] === nothing ? Base.parse(Int, m.match) : Base.parse(Float64, m.match)
    number, i + ncodeunits(m.match)
end

function parse_object(text, i)
    object = Dict{String,Any}()
    i = skip_space(text, i + 1)
    text[i] == '}' && return object, i + 1
    while true
        key, i = parse_string(text, skip_space(text, i))
        i = skip_space(text, i)
        text[i] == ':' || error("JSON: expected ':' at $i")
        object[key], i = parse_value(text, skip_space(text, i + 1))
        i = skip_space(text, i)
        text[i] == '}' && return object, i + 1
        text[i] == ',' || error("JSON: expected ',' at $i")
        i += 1
    end
end

function parse_array(text, i)
    array = Any[]
    i = skip_space(text, i + 1)
    text[i] == ']' && return array, i + 1
    while true
        value, i = parse_value(text, skip_space(text, i))
        push!(array, value)
        i = skip_space(text, i)
        text[i] == ']' && return array, i + 1
        text[i] == ',' || error("JSON: expected ',' at $i")
        i += 1
    end
end

const ESCAPES = Dict('"' => '"', '\\' => '\\', '/' => '/', 'b' => '\b', 'f' => '\f', 'n' => '\n', 'r' => '\r', 't' => '\t')

function parse_string(text, i)
    text[i] == '"' || error("JSON: expected a string at $i")
    out = IOBuffer()
    i += 1
    while text[i] != '"'
        if text[i] == '\\'
            e = text[i + 1]
            if e == 'u'
                write(out, Char(Base.parse(UInt16, text[i+2:i+5]; base = 16)))
                i += 6
            else
                write(out, ESCAPES[e])
                i += 2
            end
        else
            write(out, text[i])
            i = nextind(text, i)
        end
    end
    String(take!(out)), i + 1
end

end
