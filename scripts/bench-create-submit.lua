-- wrk script: each connection alternates "create an application" and "submit the one it created".
local token = os.getenv("TOKEN")
local f = io.open(os.getenv("FORM"), "r")
local form = f:read("*a")
f:close()
local pending = {}
local submits = 0

request = function()
  local id = table.remove(pending)
  if id then
    return wrk.format("POST", "/api/v1/applications/" .. id .. "/submit", { ["Authorization"] = "Bearer " .. token })
  end
  return wrk.format("POST", "/api/v1/applications",
    { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }, form)
end

response = function(status, headers, body)
  if status == 201 then
    local id = body:match('"id":"([^"]+)"')
    if id then table.insert(pending, id) end
  elseif status == 202 then
    submits = submits + 1
  end
end
