-- HAProxy action `lua.portcullis_auth`: asks the Portcullis outpost about the current
-- request (like nginx's auth_request) and stores the answer's status in
-- txn.portcullis_status; on 2xx it sets the identity headers on the request, replacing
-- any the client sent. Needs HAProxy 2.6+ (core.httpclient). See haproxy.cfg.
--
-- PORTCULLIS_OUTPOST: the outpost's base URL (setenv in haproxy.cfg's global section).
local outpost = os.getenv("PORTCULLIS_OUTPOST") or "http://127.0.0.1:4180"

-- The identity headers of the ForwardAuthRoute's header preset (oauth2-proxy here).
local identity = {
  "X-Auth-Request-User",
  "X-Auth-Request-Email",
  "X-Auth-Request-Groups",
  "X-Auth-Request-Preferred-Username",
}
-- Request headers the outpost needs: the session cookie, bearer tokens, and what tells
-- a browser from an API client.
local forward = { "cookie", "authorization", "accept", "x-requested-with" }

core.register_action("portcullis_auth", { "http-req" }, function(txn)
  local req = txn.http:req_get_headers()
  local host = req["host"] and req["host"][0] or ""
  local scheme = "http"
  if txn.f:ssl_fc() then
    scheme = "https"
  end
  local headers = {
    ["x-original-url"] = { scheme .. "://" .. host .. txn.f:pathq() },
    ["x-original-method"] = { txn.f:method() },
  }
  for _, name in ipairs(forward) do
    if req[name] then
      headers[name] = { req[name][0] }
    end
  end

  local res = core.httpclient():get({ url = outpost .. "/oauth2/auth", headers = headers, timeout = 5000 })
  local status = (res and res.status) or 0
  txn:set_var("txn.portcullis_status", status)
  -- Every identity header is replaced (empty when the outpost sent none), so a header
  -- the client made up never reaches the app.
  for _, name in ipairs(identity) do
    local value = ""
    if status >= 200 and status < 300 and res.headers then
      local v = res.headers[string.lower(name)]
      if v then
        value = v[0]
      end
    end
    txn.http:req_set_header(name, value)
  end
end, 0)
