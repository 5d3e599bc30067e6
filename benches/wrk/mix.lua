-- wrk's side of the cross-check (`mesure-load suite` runs it): replays the
-- load generator's mix, written by `mesure-load requests`, one request per
-- line: method, target, body, then headers as "name: value", tab-separated.
-- Usage: wrk -t2 -c64 -d60s -s benches/wrk/mix.lua http://127.0.0.1:PORT -- FILE

local requests = {}
local next = 0

function init(args)
  for line in io.lines(args[1]) do
    local fields = {}
    for field in (line .. "\t"):gmatch("([^\t]*)\t") do
      fields[#fields + 1] = field
    end
    local headers = {}
    for k = 4, #fields do
      local name, value = fields[k]:match("^([^:]+): (.*)$")
      if name then
        headers[name] = value
      end
    end
    local body = nil
    if fields[3] ~= "" then
      body = fields[3]
    end
    requests[#requests + 1] = wrk.format(fields[1], fields[2], headers, body)
  end
  -- Each thread starts at its own place in the mix.
  next = math.random(#requests)
end

function request()
  next = next % #requests + 1
  return requests[next]
end
