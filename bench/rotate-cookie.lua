-- wrk script: every request carries a different user id cookie (10,000 ids
-- per thread), so a proxy's 90/10 cookie-sticky split is exercised rather
-- than pinning the whole run to one version.
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
local n = 0
function request()
  n = n + 1
  return wrk.format(nil, nil, { ["Cookie"] = "uid=t" .. tid .. "-" .. (n % 10000) })
end
