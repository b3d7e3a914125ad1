-- wrk script: each request takes a random tile from tiles.txt (`z x y` lines) and asks for
-- it with the URL form in the environment variable PVS_BENCH_FORM:
--   xyz    /tiles/BENCH/{z}/{x}/{y}.png   (pvs cache)
--   file   /tiles/BENCH/default/WebMercatorQuad/{z}/{x}/{y}.png   (nginx, the file itself)
local form = os.getenv("PVS_BENCH_FORM") or "xyz"
local list = os.getenv("PVS_BENCH_TILES") or "tiles.txt"
local paths = {}
for line in io.lines(list) do
  local z, x, y = line:match("(%d+) (%d+) (%d+)")
  if form == "file" then
    paths[#paths + 1] = "/tiles/BENCH/default/WebMercatorQuad/" .. z .. "/" .. x .. "/" .. y .. ".png"
  else
    paths[#paths + 1] = "/tiles/BENCH/" .. z .. "/" .. x .. "/" .. y .. ".png"
  end
end
math.randomseed(os.time())

request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
