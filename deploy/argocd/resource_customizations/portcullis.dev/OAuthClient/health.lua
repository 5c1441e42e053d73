-- Argo CD health check for the portcullis.dev kinds (OIDCProvider, OAuthClient,
-- ForwardAuthRoute). One source, copied to resource_customizations/portcullis.dev/<Kind>/
-- by scripts/regen. Uses only the Lua language and the base library (no string, os
-- or package functions), so it runs in every Argo CD version.
--
--   Healthy      Ready=True, observed at the current metadata.generation
--   Progressing  no status or conditions yet, no Ready condition yet, an
--                observedGeneration behind metadata.generation, or Ready=Unknown
--   Degraded     Ready=False: the failing condition's message
local hs = {}
local status = obj.status
if status == nil or status.conditions == nil or #status.conditions == 0 then
  hs.status = "Progressing"
  hs.message = "Waiting for the Portcullis operator to report status"
  return hs
end

local ready = nil
for _, c in ipairs(status.conditions) do
  if c.type == "Ready" then
    ready = c
  end
end
if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Ready condition"
  return hs
end

local generation = nil
if obj.metadata ~= nil then
  generation = obj.metadata.generation
end
if generation ~= nil then
  local observed = ready.observedGeneration
  if observed == nil then
    observed = status.observedGeneration
  end
  local lagging = observed == nil or observed < generation
  if status.observedGeneration ~= nil and status.observedGeneration < generation then
    lagging = true
  end
  if lagging then
    hs.status = "Progressing"
    if observed == nil then
      hs.message = "Waiting for the operator to observe generation " .. generation
    else
      hs.message = "Waiting for the operator to observe generation " .. generation .. " (observed " .. observed .. ")"
    end
    return hs
  end
end

local message = ready.message
if message == nil or message == "" then
  message = ready.reason
end
if message == nil then
  message = ""
end

if ready.status == "True" then
  hs.status = "Healthy"
elseif ready.status == "False" then
  hs.status = "Degraded"
else
  hs.status = "Progressing"
end
hs.message = message
return hs
