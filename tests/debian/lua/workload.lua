-- Workload for tests/tests/debian_lua.rs: Debian's lua5.4, built by its own build files with
-- xisa-cc, runs this script on every executor and migrated mid-run across ISAs; the output
-- must equal that of the native build. Deterministic on purpose: no clocks, no addresses, no
-- pairs() over hash parts, no transcendental libm functions, math.random only after a fixed
-- seed.
--
-- Almost all of the work runs inside one pcall (a setjmp in luaD_rawrunprotected) that ends
-- with an error thrown from deep recursion (its longjmp), so a capture strictly inside the run
-- lies between that setjmp and its longjmp. The hot loops go through the interpreter's
-- computed-goto dispatch. In every round, a good part of the work happens at the bottom of
-- dozens of nested pcalls (as many live jump buffers); the line "at the bottom of N nested
-- pcalls" is printed on arrival there and "unwound" once the error thrown from there has
-- come back through all of them, so a capture whose output ends with the former lies
-- between those setjmps and their longjmps. The test looks for these lines: keep them.

local fmt = string.format
local ROUNDS = tonumber(arg and arg[1]) or 6

local function hash(h, v)
  return (h * 31 + v) & 0xffffffff
end

-- Phase 1: tables and string.format.
print("phase 1: tables")
local squares = {}
for i = 1, 200 do
  squares[i] = i * i
end
local words = {}
for i = 1, 60 do
  words[#words + 1] = fmt("w%03d-%x", (i * 37) % 101, i * 7)
end
table.sort(words)
local total = 0
for _, v in ipairs(squares) do total = total + v end
print(fmt("  squares: n=%d sum=%d last=%d", #squares, total, squares[#squares]))
print(fmt("  words: first=%s last=%s concat=%d", words[1], words[#words], #table.concat(words, ",")))
print(fmt("  format: [%5.2f] [%-8s] [%08.3f] [%+d] [%q] [%x] [%5.1e] [%g] [%s]",
  math.pi, "left", 2 / 3, 17, "a \"quoted\"\n line", 48879, 12345.678, 0.1 + 0.2, 1 / 3))

-- Phase 2: the protected section.
print("phase 2: protected section begins")
local ok, err = pcall(function()
  local acc = 0
  local caught = 0
  for round = 1, ROUNDS do
    -- A hot loop: integer and float arithmetic, table reads and writes, comparisons.
    local t = {}
    local x = 0.5
    for i = 1, 25000 do
      local v = (i * round) % 977
      t[i % 128 + 1] = v
      acc = hash(acc, v ~ (i >> 2))
      x = x * 1.0000001 + v / 1024
      if x > 1e6 then x = x / 3 end
    end
    local s = 0
    for i = 1, #t do s = s + t[i] end
    print(fmt("  round %d: acc=%08x sum=%d x=%.6f", round, acc, s, x))

    -- An error thrown from deep recursion (Lua frames under one pcall).
    local function deep(n)
      if n == 0 then error(fmt("bottom of round %d", round), 0) end
      return 1 + deep(n - 1)
    end
    local ok1, msg1 = pcall(deep, 100 + round * 10)

    -- Runtime errors raised by the VM and by C library functions (some calling back into Lua).
    local ok2, msg2 = pcall(function() local z = nil; return z + round end)
    local ok3, msg3 = pcall(string.rep)
    local ok4, msg4 = pcall(table.sort, { 5, 3, 9, 1, 7 }, function(a, b)
      if a == 9 or b == 9 then error("comparator gave up", 0) end
      return a < b
    end)
    local ok5, msg5 = pcall(error)
    local ok6, msg6 = xpcall(function() error("handled") end, function(m) return "handler: " .. m end)
    for _, failed in ipairs({ not ok1, not ok2, not ok3, not ok4, not ok5, not ok6 }) do
      if failed then caught = caught + 1 end
    end
    print(fmt("    %s | %s", msg1, msg2))
    print(fmt("    %s | %s | %s | %s", msg3, msg4, tostring(msg5), msg6))

    -- Nested pcalls, each rethrowing what the inner one caught (C recursion through setjmp),
    -- with work at the bottom: sorting through a Lua comparator, string building, arithmetic.
    local levels = 40 + round
    local function nest(n)
      if n == 0 then
        print(fmt("    round %d: at the bottom of %d nested pcalls", round, levels))
        local v = {}
        for i = 1, 500 do v[i] = (i * 7919 + round) % 1543 end
        table.sort(v, function(a, b) return a > b end)
        local h = 0
        for i = 1, #v do h = hash(h, v[i]) end
        local parts = {}
        for i = 1, 150 do parts[i] = fmt("%d:%s", i, string.rep("ab", (i + round) % 5)) end
        local text = table.concat(parts, ";")
        local matched = 0
        for k, w in text:gmatch("(%d+):(a?b?a?b?)") do
          if #w > 2 then matched = matched + tonumber(k) end
        end
        local y = 0
        for i = 1, 6000 do y = (y * 3 + i * round) % 1000003 end
        error({ depth = 0, trail = "0", sorted = h, matched = matched, y = y })
      end
      local okn, e = pcall(nest, n - 1)
      assert(not okn)
      e.depth = e.depth + 1
      if n % 10 == 0 then e.trail = e.trail .. "," .. n end
      error(e)
    end
    local ok7, e7 = pcall(nest, levels)
    if not ok7 then caught = caught + 1 end
    print(fmt("    unwound %d levels (%s): sorted=%08x matched=%d y=%d",
      e7.depth, e7.trail, e7.sorted, e7.matched, e7.y))
  end

  -- Coroutines: yields across the interpreter loop, an error inside one.
  local gen = coroutine.wrap(function()
    for i = 1, 5 do coroutine.yield(i * i) end
    error("generator exhausted", 0)
  end)
  local got = {}
  local okc, ec = pcall(function()
    while true do got[#got + 1] = gen() end
  end)
  if not okc then caught = caught + 1 end
  print(fmt("  coroutine: %s after %s", ec, table.concat(got, " ")))

  -- Fixed-seed pseudo-random numbers (xoshiro256**, the same everywhere).
  math.randomseed(20240601)
  local r = {}
  for i = 1, 8 do r[i] = math.random(1, 1000) end
  print("  random: " .. table.concat(r, " "))

  print(fmt("phase 2: %d errors caught; throwing from deep recursion", caught))
  local function dive(n)
    if n == 0 then error({ acc = acc, caught = caught }) end
    local r2 = dive(n - 1)
    return r2
  end
  dive(300)
  print("not reached")
end)
print(fmt("phase 2: pcall returned %s, acc=%08x, caught=%d", tostring(ok), err.acc, err.caught))

-- Phase 3: errors thrown from deep C recursion: each level calls tostring (C), which calls a
-- __tostring metamethod (Lua), until the interpreter refuses to go deeper.
local function tower(n)
  return tostring(setmetatable({}, { __tostring = function() return tower(n + 1) end }))
end
local okc1, ec1 = pcall(tower, 1)
local okc2, ec2 = pcall(string.gsub, "abc", "%w", function(c)
  local inner_ok, inner = pcall(tower, 1)
  error(fmt("gsub callback after '%s' for %s", inner, c), 0)
end)
print(fmt("phase 3: %s %s | %s %s", tostring(okc1), ec1, tostring(okc2), ec2))
print("done")
